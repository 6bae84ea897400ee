//! Signals: the first SIGINT or SIGTERM starts a graceful shutdown, a second one exits at
//! once; SIGHUP reloads the configuration file; SIGUSR2 enters lame-duck mode (as
//! nats-server's `--signal ldm`).

use sluice_server::CancellationToken;
use tracing::{info, warn};

/// The signal handlers, installed before the server says it is ready so that a signal sent
/// as soon as the ready line appears is caught rather than killing the process.
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    user2: tokio::signal::unix::Signal,
}

/// What a signal asks for.
enum Action {
    /// SIGINT/SIGTERM, named as nats-server names them.
    Stop(&'static str),
    /// SIGHUP.
    Reload,
    /// SIGUSR2.
    LameDuck,
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
                hangup: signal(SignalKind::hangup())?,
                user2: signal(SignalKind::user_defined2())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the next signal.
    async fn next(&mut self) -> Action {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => Action::Stop("terminated"),
                _ = self.interrupt.recv() => Action::Stop("interrupt"),
                _ = self.hangup.recv() => Action::Reload,
                _ = self.user2.recv() => Action::LameDuck,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Action::Stop("interrupt")
        }
    }

    /// Calls `reload` on each SIGHUP and `lame_duck` on each SIGUSR2; cancels `shutdown` on
    /// the first SIGINT/SIGTERM and exits the process (code 1) on the second.
    pub async fn watch(
        mut self,
        shutdown: CancellationToken,
        mut reload: impl FnMut(),
        mut lame_duck: impl FnMut(),
    ) {
        let mut stopping = false;
        loop {
            match self.next().await {
                Action::Reload => {
                    info!("Trapped \"hangup\" signal");
                    reload();
                }
                Action::LameDuck => {
                    info!("Trapped \"user defined signal 2\" signal");
                    lame_duck();
                }
                Action::Stop(name) if !stopping => {
                    info!("Trapped {name:?} signal");
                    info!("Initiating Shutdown...");
                    shutdown.cancel();
                    stopping = true;
                }
                Action::Stop(name) => {
                    warn!("Trapped {name:?} signal again: exiting without waiting for shutdown");
                    std::process::exit(1);
                }
            }
        }
    }
}
