//! Shutdown signals: the first SIGINT or SIGTERM starts a graceful shutdown, a second one
//! exits at once.

use sluice_server::CancellationToken;
use tracing::{info, warn};

/// The signal handlers, installed before the server says it is ready so that a signal sent
/// as soon as the ready line appears is caught rather than killing the process.
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers. Must run inside the tokio runtime.
    pub fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the next signal and names it as nats-server does.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "terminated",
                _ = self.interrupt.recv() => "interrupt",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    }

    /// Cancels `shutdown` on the first signal; exits the process (code 1) on the second.
    pub async fn watch(mut self, shutdown: CancellationToken) {
        let name = self.next().await;
        info!("Trapped {name:?} signal");
        info!("Initiating Shutdown...");
        shutdown.cancel();
        let name = self.next().await;
        warn!("Trapped {name:?} signal again: exiting without waiting for shutdown");
        std::process::exit(1);
    }
}
