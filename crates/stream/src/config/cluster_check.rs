//! The checks of a stream config on a clustered server, where `num_replicas` up to
//! [`MAX_REPLICAS`] is served (a single server refuses more than one: `check.rs`).

use super::{StreamConfig, MAX_REPLICAS};
use crate::api::errors::ApiError;

impl StreamConfig {
    /// The replica count asked for (0 means 1), checked as nats-server checks it.
    fn replicas_asked(&self) -> Result<i64, ApiError> {
        let r = if self.num_replicas == 0 {
            1
        } else {
            self.num_replicas
        };
        if r > MAX_REPLICAS {
            return Err(ApiError::stream_invalid_config(format!(
                "maximum replicas is {MAX_REPLICAS}"
            )));
        }
        if r < 0 {
            return Err(ApiError::replicas_count_cannot_be_negative());
        }
        if r > 1 && self.subjects.iter().any(|s| s == ">") {
            return Err(ApiError::stream_invalid_config(
                "capturing all subjects requires replicas of 1",
            ));
        }
        Ok(r)
    }

    /// [`StreamConfig::check_create`] on a clustered server.
    pub fn check_create_clustered(&self, subject_name: &str) -> Result<StreamConfig, ApiError> {
        let r = self.replicas_asked()?;
        let mut one = self.clone();
        one.num_replicas = 1;
        let mut cfg = one.check_create(subject_name)?;
        cfg.num_replicas = r;
        Ok(cfg)
    }

    /// [`StreamConfig::check_update`] on a clustered server (`self` is the stream's config).
    pub fn check_update_clustered(&self, new: &StreamConfig) -> Result<StreamConfig, ApiError> {
        let r = new.replicas_asked()?;
        let (mut old, mut one) = (self.clone(), new.clone());
        old.num_replicas = 1;
        one.num_replicas = 1;
        let mut cfg = old.check_update(&one)?;
        cfg.num_replicas = r;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(replicas: i64) -> StreamConfig {
        StreamConfig {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            num_replicas: replicas,
            ..StreamConfig::default()
        }
    }

    #[test]
    fn a_cluster_takes_up_to_five_replicas() {
        assert_eq!(cfg(3).check_create_clustered("S").unwrap().num_replicas, 3);
        assert_eq!(cfg(0).check_create_clustered("S").unwrap().num_replicas, 1);
        let e = cfg(6).check_create_clustered("S").unwrap_err();
        assert!(e.description.contains("maximum replicas is 5"), "{e:?}");
        assert!(cfg(-1).check_create_clustered("S").is_err());
        assert!(
            cfg(3).check_create("S").is_err(),
            "a single server still refuses"
        );
        let mut all = cfg(3);
        all.subjects = vec![">".into()];
        all.no_ack = true;
        assert!(all.check_create_clustered("S").is_err());
    }

    #[test]
    fn updates_keep_their_other_checks() {
        let old = cfg(3).check_create_clustered("S").unwrap();
        let mut new = old.clone();
        new.max_msgs = 10;
        assert_eq!(old.check_update_clustered(&new).unwrap().max_msgs, 10);
        new.storage = crate::config::StorageType::Memory;
        assert!(old.check_update_clustered(&new).is_err());
    }
}
