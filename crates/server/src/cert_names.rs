//! The names a client certificate carries, read from its DER with a small bounded reader
//! (no X.509 crate): the subject alternative names (email addresses, DNS names, URIs) and
//! the subject, as an RDN sequence in the certificate's order. `verify_and_map`
//! ([`crate::tls_map`]) matches users against them. Malformed input is `None`, never a
//! panic; nothing is read past the buffer.

/// One attribute of a subject RDN: its type (dotted OID) and value (`None`: not a string
/// type, which nats-server's Go code also leaves out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub(crate) oid: String,
    pub(crate) value: Option<String>,
}

/// What a client certificate names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CertNames {
    pub(crate) emails: Vec<String>,
    pub(crate) dns: Vec<String>,
    pub(crate) uris: Vec<String>,
    /// The subject's RDNs in certificate order (most significant first), each a set of
    /// attributes (more than one: a multi-valued RDN).
    pub(crate) subject: Vec<Vec<Attr>>,
}

/// Most RDNs, attributes and names read from one certificate (bounds the work).
const MAX_ITEMS: usize = 4096;

const OID_SAN: &str = "2.5.29.17";

/// A DER TLV: tag and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads one TLV from the front of `input`, returning it and the rest.
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers: not used in certificates' structure
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let (body, rest) = rest.split_at(len);
    Some((Tlv { tag, body }, rest))
}

/// The TLVs inside a constructed value, at most [`MAX_ITEMS`].
fn items(mut body: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        if out.len() == MAX_ITEMS {
            return None;
        }
        let (t, rest) = tlv(body)?;
        out.push(t);
        body = rest;
    }
    Some(out)
}

/// A dotted OID from its DER contents.
fn oid(body: &[u8]) -> Option<String> {
    let (&first, rest) = body.split_first()?;
    let mut parts = vec![u64::from(first / 40).min(2)];
    parts.push(u64::from(first) - parts[0] * 40);
    let mut acc: u64 = 0;
    for (i, &b) in rest.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            parts.push(acc);
            acc = 0;
        } else if i == rest.len() - 1 {
            return None;
        }
    }
    Some(
        parts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// A string value as Go's encoding/asn1 reads one into an `interface{}`: UTF8String,
/// PrintableString, IA5String, T61String, NumericString, BMPString. Other types: `None`.
fn string_value(t: &Tlv<'_>) -> Option<String> {
    match t.tag {
        0x0c | 0x13 | 0x16 | 0x12 => std::str::from_utf8(t.body).ok().map(str::to_owned),
        // T61String: Go takes its bytes as they are (Latin-1 in practice).
        0x14 => Some(t.body.iter().map(|&b| char::from(b)).collect()),
        0x1e => {
            if !t.body.len().is_multiple_of(2) {
                return None;
            }
            let units = t
                .body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// A DER `Name` (SEQUENCE OF SET OF AttributeTypeAndValue), in its order.
#[cfg(test)]
pub(crate) fn parse_name(der: &[u8]) -> Option<Vec<Vec<Attr>>> {
    let (name, _) = tlv(der)?;
    rdns(&name)
}

/// The RDNs of a `Name`.
fn rdns(name: &Tlv<'_>) -> Option<Vec<Vec<Attr>>> {
    if name.tag != 0x30 {
        return None;
    }
    let mut rdns = Vec::new();
    for set in items(name.body)? {
        if set.tag != 0x31 {
            return None;
        }
        let mut rdn = Vec::new();
        for atv in items(set.body)? {
            let parts = items(atv.body)?;
            let [ty, value] = parts.as_slice() else {
                return None;
            };
            if atv.tag != 0x30 || ty.tag != 0x06 {
                return None;
            }
            rdn.push(Attr {
                oid: oid(ty.body)?,
                value: string_value(value),
            });
        }
        rdns.push(rdn);
    }
    Some(rdns)
}

/// The names in a DER certificate, or `None` if it cannot be read.
pub(crate) fn parse(cert: &[u8]) -> Option<CertNames> {
    let (certificate, _) = tlv(cert)?;
    let (tbs, _) = tlv(certificate.body)?;
    let fields = items(tbs.body)?;
    // [0] version is optional; then serial, signature, issuer, validity, subject, spki.
    let skip = usize::from(fields.first()?.tag == 0xa0);
    let mut names = CertNames {
        subject: rdns(fields.get(skip + 4)?)?,
        ..CertNames::default()
    };
    let Some(ext) = fields.iter().skip(skip + 6).find(|f| f.tag == 0xa3) else {
        return Some(names);
    };
    let (list, _) = tlv(ext.body)?;
    for ext in items(list.body)? {
        let parts = items(ext.body)?;
        let (Some(id), Some(value)) = (parts.first(), parts.last()) else {
            return None;
        };
        if id.tag != 0x06 || value.tag != 0x04 || oid(id.body)? != OID_SAN {
            continue;
        }
        let (general_names, _) = tlv(value.body)?;
        for gn in items(general_names.body)? {
            let text = || std::str::from_utf8(gn.body).ok().map(str::to_owned);
            match gn.tag {
                0x81 => names.emails.push(text()?),
                0x82 => names.dns.push(text()?),
                0x86 => names.uris.push(text()?),
                _ => {}
            }
        }
    }
    Some(names)
}
