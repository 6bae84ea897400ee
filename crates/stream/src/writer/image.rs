//! A replicated stream's owner as bytes, for its group's snapshots ([`Cmd::Image`]): the
//! stream's config, its messages and duplicate window (`stream/image.rs`), its consumers
//! (`consumer/image.rs`) and the last log index applied, as of the last entry applied. A
//! replica that installs one is then the machine the others are after applying the same
//! entries. Versioned; bincode, with the configs and the consumers as JSON inside (their
//! serde forms are nats-server's JSON, which bincode cannot read back).

use super::*;
use crate::config::StreamConfig;
use crate::consumer::image::ConsumersImage;
use crate::stream::StreamImage;

const VERSION: u8 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
struct OwnerImage {
    version: u8,
    applied: Index,
    /// The stream's config, JSON.
    config: String,
    stream: StreamImage,
    /// [`ConsumersImage`], JSON.
    consumers: String,
}

impl StreamOwner {
    /// The owner's state as bytes (see the module doc).
    pub(super) fn take_image(&self, s: &Stream) -> Result<Vec<u8>, String> {
        let image = OwnerImage {
            version: VERSION,
            applied: self.repl.applied(),
            config: serde_json::to_string(&self.ctx.config).map_err(|e| e.to_string())?,
            stream: s.image().map_err(|e| e.to_string())?,
            consumers: serde_json::to_string(&self.consumers.image()).map_err(|e| e.to_string())?,
        };
        bincode::serialize(&image).map_err(|e| e.to_string())
    }

    /// Replaces the owner's state by an image's (a follower installing its group's snapshot,
    /// or a replica starting from the snapshot it kept).
    pub(super) fn restore_image(&mut self, s: &mut Stream, bytes: &[u8]) -> Result<(), String> {
        let image: OwnerImage =
            bincode::deserialize(bytes).map_err(|e| format!("unreadable snapshot: {e}"))?;
        if image.version != VERSION {
            return Err(format!(
                "snapshot version {} is not {VERSION}",
                image.version
            ));
        }
        let config: StreamConfig = serde_json::from_str(&image.config)
            .map_err(|e| format!("unreadable snapshot config: {e}"))?;
        let consumers: ConsumersImage = serde_json::from_str(&image.consumers)
            .map_err(|e| format!("unreadable snapshot consumers: {e}"))?;
        if config != self.ctx.config {
            s.set_policy(crate::jetstream::policy(&config), now_ns())
                .map_err(|e| e.to_string())?;
            self.consumers.set_retention(config.retention);
            self.ctx.config = config;
        }
        s.restore_image(&image.stream).map_err(|e| e.to_string())?;
        self.consumers.restore_image(&consumers)?;
        self.repl.set_applied(image.applied);
        self.stats_dirty = true;
        Ok(())
    }
}
