//! Whether the accounts' exports and imports fit together, checked once before the server
//! starts (the configuration file's loader calls it too, so the errors carry its position).
//! The texts are nats-server 2.9.10's where it refuses the same thing.

use super::mapping::{intersects, is_subset, Mapping};
use crate::config::{AccountConfig, ExportKind, Import};

fn kind(import: &Import) -> &'static str {
    if import.stream {
        "stream"
    } else {
        "service"
    }
}

/// The mapping an import makes (export side first), or nats-server's error.
pub(crate) fn mapping_of(import: &Import) -> Result<Mapping, String> {
    Mapping::new(&import.subject, &import.to, !import.stream).map_err(|e| {
        let (from, to) = if import.stream {
            (&import.subject, &import.to)
        } else {
            (&import.to, &import.subject)
        };
        format!(
            "Error adding {k} import {s:?}: failed to create mapping transform for {k} import \
             subject {from:?} to {to:?}: {e}",
            k = kind(import),
            s = import.subject,
        )
    })
}

/// The export of `exporter` that covers `importer`'s `import`: same kind, a subject that
/// takes all of the import's, and open to the importer.
pub(crate) fn covering_export<'a>(
    exporter: &'a AccountConfig,
    importer: &str,
    import: &Import,
) -> Option<&'a crate::config::Export> {
    exporter.exports.iter().find(|e| {
        matches!(e.kind, ExportKind::Stream) == import.stream
            && is_subset(&import.subject, &e.subject)
            && e.accounts
                .as_ref()
                .is_none_or(|l| l.iter().any(|a| a == importer))
    })
}

/// Checks every account's exports and imports: the accounts they name exist, every import
/// is covered by an export open to it, mappings are valid, nothing is imported twice, and no
/// chain of imports comes back to where it started.
pub fn check_accounts(accounts: &[AccountConfig]) -> Result<(), String> {
    let find = |name: &str| accounts.iter().find(|a| a.name == name);
    for acc in accounts {
        for export in &acc.exports {
            let k = match export.kind {
                ExportKind::Stream => "stream",
                ExportKind::Service { .. } => "service",
            };
            for name in export.accounts.iter().flatten() {
                if find(name).is_none() {
                    return Err(format!("{name:?} account not defined for {k} export"));
                }
            }
        }
        for (i, import) in acc.imports.iter().enumerate() {
            let k = kind(import);
            let Some(exporter) = find(&import.account) else {
                return Err(format!(
                    "{:?} account not defined for {k} import",
                    import.account
                ));
            };
            if exporter.name == acc.name {
                return Err(format!(
                    "Error adding {k} import {:?}: account {} imports from itself (not served)",
                    import.subject, acc.name
                ));
            }
            if covering_export(exporter, &acc.name, import).is_none() {
                return Err(format!(
                    "Error adding {k} import {:?}: {k} import not authorized",
                    import.subject
                ));
            }
            mapping_of(import)?;
            for earlier in &acc.imports[..i] {
                if earlier.stream != import.stream {
                    continue;
                }
                if import.stream
                    && earlier.account == import.account
                    && earlier.subject == import.subject
                {
                    return Err(format!(
                        "Error adding stream import {:?}: stream import already exists",
                        import.subject
                    ));
                }
                if !import.stream && earlier.to == import.to {
                    return Err(format!(
                        "Duplicate service import subject {:?}, previously used in import for \
                         account {:?}, subject {:?}",
                        import.to, earlier.account, earlier.subject
                    ));
                }
            }
            if forms_cycle(accounts, &acc.name, import) {
                return Err(format!(
                    "Error adding {k} import {:?}: import forms a cycle",
                    import.subject
                ));
            }
        }
    }
    Ok(())
}

/// Does following `import` (of account `owner`) through the exporters' own imports of the
/// same kind come back to `owner` on subjects `import` takes?
fn forms_cycle(accounts: &[AccountConfig], owner: &str, import: &Import) -> bool {
    // (account, subjects in it) still to follow; each import followed at most once.
    let mut todo = vec![(import.account.clone(), import.subject.clone())];
    let mut seen: Vec<(String, String)> = Vec::new();
    while let Some((name, subject)) = todo.pop() {
        if name == owner && intersects(&subject, &import.to) {
            return true;
        }
        let Some(acc) = accounts.iter().find(|a| a.name == name) else {
            continue;
        };
        for next in acc.imports.iter().filter(|n| n.stream == import.stream) {
            // A service request on `subject` in `name` goes on through imports whose `to`
            // it matches; a stream import's messages come into `name` from the imports
            // whose `to` covers them.
            if intersects(&next.to, &subject) {
                let key = (name.clone(), next.to.clone());
                if !seen.contains(&key) {
                    seen.push(key);
                    todo.push((next.account.clone(), next.subject.clone()));
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Export, ResponseType};
    use std::time::Duration;

    fn service(subject: &str, accounts: Option<&[&str]>) -> Export {
        Export {
            subject: subject.into(),
            kind: ExportKind::Service {
                response: ResponseType::Singleton,
                threshold: Duration::from_secs(120),
            },
            accounts: accounts.map(|l| l.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn stream(subject: &str, accounts: Option<&[&str]>) -> Export {
        Export {
            subject: subject.into(),
            kind: ExportKind::Stream,
            accounts: accounts.map(|l| l.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn import(stream: bool, account: &str, subject: &str, to: &str) -> Import {
        Import {
            stream,
            account: account.into(),
            subject: subject.into(),
            to: to.into(),
        }
    }

    fn acc(name: &str, exports: Vec<Export>, imports: Vec<Import>) -> AccountConfig {
        AccountConfig {
            name: name.into(),
            exports,
            imports,
        }
    }

    #[test]
    fn a_covered_import_is_accepted() {
        let accounts = [
            acc(
                "A",
                vec![stream("pub.>", None), service("help.>", Some(&["B"]))],
                vec![],
            ),
            acc(
                "B",
                vec![],
                vec![
                    import(true, "A", "pub.>", "fa.pub.>"),
                    import(false, "A", "help.>", "ah.>"),
                ],
            ),
        ];
        assert_eq!(check_accounts(&accounts), Ok(()));
    }

    #[test]
    fn nats_server_refusals() {
        let a = |exports| acc("A", exports, vec![]);
        let b = |imports| acc("B", vec![], imports);
        let err = |accounts: &[AccountConfig]| check_accounts(accounts).unwrap_err();
        assert_eq!(
            err(&[
                a(vec![stream("lim.*", Some(&["B"]))]),
                acc("C", vec![], vec![import(true, "A", "lim.*", "lim.*")]),
                b(vec![])
            ]),
            "Error adding stream import \"lim.*\": stream import not authorized"
        );
        assert_eq!(
            err(&[
                a(vec![service("h.>", None)]),
                b(vec![import(false, "A", "x", "x")])
            ]),
            "Error adding service import \"x\": service import not authorized"
        );
        // A stream export does not cover a service import.
        assert_eq!(
            err(&[
                a(vec![stream("h.>", None)]),
                b(vec![import(false, "A", "h.x", "h.x")])
            ]),
            "Error adding service import \"h.x\": service import not authorized"
        );
        assert_eq!(
            err(&[
                a(vec![service("h.>", None)]),
                b(vec![import(false, "Z", "h.x", "h.x")])
            ]),
            "\"Z\" account not defined for service import"
        );
        assert_eq!(
            err(&[a(vec![stream("h.*", Some(&["Q"]))])]),
            "\"Q\" account not defined for stream export"
        );
        assert_eq!(
            err(&[
                a(vec![stream("h.*", None)]),
                b(vec![import(true, "A", "h.*", "q.>")])
            ]),
            "Error adding stream import \"h.*\": failed to create mapping transform for stream \
             import subject \"h.*\" to \"q.>\": invalid subject"
        );
        assert_eq!(
            err(&[
                a(vec![service("h.*", None)]),
                b(vec![import(false, "A", "h.*", "x")])
            ]),
            "Error adding service import \"h.*\": failed to create mapping transform for service \
             import subject \"x\" to \"h.*\": invalid mapping destination: not using all of the \
             token wildcard(s) in x"
        );
        assert_eq!(
            err(&[
                a(vec![stream("h.>", None)]),
                b(vec![
                    import(true, "A", "h.x", "h.x"),
                    import(true, "A", "h.x", "h.x")
                ])
            ]),
            "Error adding stream import \"h.x\": stream import already exists"
        );
        assert_eq!(
            err(&[
                a(vec![service("h.>", None)]),
                b(vec![
                    import(false, "A", "h.x", "h.x"),
                    import(false, "A", "h.y", "h.x")
                ])
            ]),
            "Duplicate service import subject \"h.x\", previously used in import for account \
             \"A\", subject \"h.x\""
        );
    }

    #[test]
    fn cycles_are_refused_and_unrelated_mutual_imports_are_not() {
        // A's requests on y go to B as x, and B's on x come back to A as y.
        let cyclic = [
            acc(
                "A",
                vec![service("y", None)],
                vec![import(false, "B", "x", "y")],
            ),
            acc(
                "B",
                vec![service("x", None)],
                vec![import(false, "A", "y", "x")],
            ),
        ];
        assert_eq!(
            check_accounts(&cyclic).unwrap_err(),
            "Error adding service import \"x\": import forms a cycle"
        );
        // The same with streams: B's messages on x come to A as y and go back as x.
        let cyclic = [
            acc(
                "A",
                vec![stream("y", None)],
                vec![import(true, "B", "x", "y")],
            ),
            acc(
                "B",
                vec![stream("x", None)],
                vec![import(true, "A", "y", "x")],
            ),
        ];
        assert_eq!(
            check_accounts(&cyclic).unwrap_err(),
            "Error adding stream import \"x\": import forms a cycle"
        );
        // A serves B and B serves A on other subjects: no cycle.
        let mutual = [
            acc(
                "A",
                vec![service("a.svc", None)],
                vec![import(false, "B", "b.svc", "b.svc")],
            ),
            acc(
                "B",
                vec![service("b.svc", None)],
                vec![import(false, "A", "a.svc", "a.svc")],
            ),
        ];
        assert_eq!(check_accounts(&mutual), Ok(()));
        let self_import = [acc(
            "A",
            vec![service("h.>", None)],
            vec![import(false, "A", "h.x", "h.y")],
        )];
        assert!(check_accounts(&self_import)
            .unwrap_err()
            .contains("imports from itself"));
    }
}
