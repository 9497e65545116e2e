//! The `/ws/projects/{project}` stream's messages: what the server pushes
//! ([`ServerMsg`]) and what a client may send ([`ClientMsg`]).
//!
//! [`PerfMetrics`] and its sections ([`Run`], [`Tokens`], [`Cpu`], [`Memory`],
//! [`Gpu`], [`Network`], [`Disk`], [`Monitor`]) are one sample of the machine and
//! the project's agent run. Every value that can be missing is an `Option`,
//! serialised as `null`, never a made-up number. Sections beyond the seed contract
//! default when absent, so the seed document's example still decodes.

use serde::{Deserialize, Serialize};

/// A message from the server to a client.
// Messages are decoded one at a time and consumed at once: boxing the big variant
// would only add an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The project's run's status, in AutoForge's shape: sent first on connect
    /// and again whenever the status changes (AutoForge's panel lights its
    /// Live badge from this message alone).
    AgentStatus(AgentStatusMsg),
    /// One sample of the machine and of the project's run.
    PerfMetrics(PerfMetrics),
    /// The project's recent samples, oldest first; sent once, right after connect.
    History(History),
    /// The answer to [`ClientMsg::Ping`].
    Pong,
    /// The client sent something the server could not accept; the socket stays open.
    Error(ErrorMsg),
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Liveness check; the server answers [`ServerMsg::Pong`].
    Ping,
}

/// A UTC instant as RFC 3339 text with milliseconds, e.g. `2026-02-08T20:15:30.123Z`.
///
/// Kept as text so this crate needs no date library; the server formats it, the
/// browser parses it with `Date.parse`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub String);

impl Timestamp {
    /// The RFC 3339 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One sample, as pushed every tick to every client of a project.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PerfMetrics {
    /// When the sampler took this sample; identical for every client of one tick.
    pub timestamp: Timestamp,
    /// The project this stream belongs to (the `{project}` of the socket's path).
    pub project: String,
    /// The project's agent run.
    pub run: Run,
    /// Token usage of the run and of the session.
    pub tokens: Tokens,
    /// Whole-machine CPU use.
    pub cpu: Cpu,
    /// Whole-machine memory use.
    pub memory: Memory,
    /// NVIDIA GPUs, or why there are none.
    pub gpu: Gpu,
    /// Position of this sample in the project's stream, counting from 1 for each
    /// server [`instance`](Self::instance); a gap means the client skipped samples
    /// (it read too slowly).
    #[serde(default)]
    pub seq: u64,
    /// Which start of the server sent this: a new value means the server
    /// restarted and `seq` counts from 1 again, so a client must not take the new
    /// samples for replays of ones it has.
    #[serde(default)]
    pub instance: String,
    /// The cadence this sample was pushed at, in milliseconds (1000 live, 3000 idle).
    #[serde(default)]
    pub interval_ms: u64,
    /// Network traffic over non-loopback interfaces.
    #[serde(default)]
    pub network: Network,
    /// Disk traffic and the space of the filesystem PerfMon runs in.
    #[serde(default)]
    pub disk: Disk,
    /// What PerfMon itself costs the machine.
    #[serde(default)]
    pub monitor: Monitor,
    /// CPU time by mode (machine and per core), scheduler rates, frequency and
    /// temperatures. The sections from here on are the machine in depth
    /// ([`crate::depth`]): additive, so a client that knows only the fields
    /// above reads every sample as before. Live samples always carry them; the
    /// `history` replayed on connect leaves them out (absent: not carried).
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub cpu_detail: crate::depth::cpu::CpuDetail,
    /// Pressure stall information: how much time work waited for CPU, IO or memory.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub pressure: crate::depth::pressure::Pressure,
    /// Memory beyond used/total: available, cache, buffers, dirty, slab, hugepages.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub memory_detail: crate::depth::memory::MemoryDetail,
    /// Paging and swapping rates, page faults and the OOM-kill counter.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub paging: crate::depth::memory::Paging,
    /// Each physical disk: throughput, IOPS, latency, % busy.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub disks: crate::depth::disks::Disks,
    /// Each filesystem on a real block device: size, used, free.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub filesystems: crate::depth::disks::Filesystems,
    /// Each network interface but loopback: bytes, packets, errors, drops.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub interfaces: crate::depth::network::Interfaces,
    /// TCP connections by state, UDP sockets, TCP retransmits.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub sockets: crate::depth::network::Sockets,
    /// Machine-wide hardware and software counters (`perf_event_open`), each
    /// with its own availability.
    #[serde(default, skip_serializing_if = "crate::depth::is_default")]
    pub perf_events: crate::depth::perf::PerfEvents,
}

/// The recent samples of a project, so charts fill at once on connect.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// Oldest first; at most the server's history window.
    pub samples: Vec<PerfMetrics>,
}

/// `{"type":"agent_status","status":…}`: the status alone, as AutoForge's
/// server sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatusMsg {
    /// The project's run's status, as in [`Run::status`].
    pub status: RunStatus,
}

/// The lifecycle state of a project's agent run, in AutoForge's vocabulary
/// (its `AgentStatus`, less the client-side `loading`), so a host app's panel
/// reads it unchanged. A project that never had a run is `stopped` with no
/// `run_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// No run is live: none was started (`run_id` is `null`), or the last one
    /// ended well (exit 0) or was stopped by PerfMon. (`idle`, which servers
    /// before AutoForge compatibility sent for "none started", reads as this.)
    #[default]
    #[serde(alias = "idle")]
    Stopped,
    /// The run's process is executing.
    Running,
    /// The run's process is stopped (SIGSTOP) but alive.
    Paused,
    /// The last run's command failed: it exited non-zero or was killed by a
    /// signal (`exit_code` or `signal` says which).
    Crashed,
}

impl RunStatus {
    /// Live runs are sampled every second and shown with a `Live` badge.
    pub fn is_live(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Paused)
    }

    /// The status of a run that ended with `exit_code` or `signal` (both
    /// `None` until the exit is reported, or when PerfMon stopped following it).
    pub fn ended(exit_code: Option<i32>, signal: Option<i32>) -> RunStatus {
        if signal.is_some() || exit_code.is_some_and(|code| code != 0) {
            RunStatus::Crashed
        } else {
            RunStatus::Stopped
        }
    }
}

/// A project's agent run, as the stream shows it.
///
/// A project may have several live runs at once (two `perfmon run` in one
/// project, say): each is followed, measured and recorded on its own, and none
/// ends or alters another. The stream shows one: the oldest live run, and once
/// none is live the one that ended last (`stopped`). The others are in the
/// project's runs (`GET /api/projects/{project}/runs`) with their own ids.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Run {
    /// Where the run is in its lifecycle.
    pub status: RunStatus,
    /// The run's root process, while there is one.
    pub pid: Option<u32>,
    /// When the run started.
    pub started_at: Option<Timestamp>,
    /// `{pid}-{started_at}`: unique across pid reuse.
    pub run_id: Option<String>,
    /// What the run's process tree uses, while it is live.
    #[serde(default)]
    pub process: Option<RunProcess>,
    /// The label it was started with (`perfmon run --label`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its command's exit code, once `perfmon run` reported one: a stopped run
    /// says how it ended (exit 0 reads as success, not as "stopped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that killed its command, once reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// While it is live: where its time went over the last 30 s, in a word
    /// (`cpu_bound`, `waiting_for_cpu`, `io_stalled`, `memory_stalled`,
    /// `gpu_bound`, `idle`); `null` until 30 s of it were measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::why::LiveState>,
}

/// Resource use of a run's whole process tree (the pid and its descendants).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunProcess {
    /// CPU used by the tree as a share of the whole machine, 0–100.
    pub cpu_percent: Option<f64>,
    /// Resident memory of the tree, in MB (MiB).
    pub rss_mb: Option<f64>,
    /// GPU memory the tree holds, in GB (GiB): 0 when NVML lists none of its
    /// processes, `null` when there is no GPU data or the processes cannot be
    /// matched (then `gpu_memory_reason` says why).
    pub gpu_memory_gb: Option<f64>,
    /// Processes in the tree.
    pub process_count: u32,
    /// Why `gpu_memory_gb` is `null` while the GPU section has data (per-process
    /// use unsupported, or NVML's pids belong to another PID namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_reason: Option<String>,
}

/// Token usage of the project's agent: read from its own transcripts while a
/// run is live, or reported by it (`POST /api/projects/{project}/tokens`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tokens {
    /// Tokens used by the current run (input, output, cache writes and cache
    /// reads, summed, for counts read from transcripts).
    pub current_run: u64,
    /// Tokens used since the server started, across runs.
    pub total_session: u64,
    /// False until usage was read or reported at least once: the counts are
    /// then placeholders and must not be shown as measured.
    pub available: bool,
    /// Where the counts come from; absent while not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TokenSource>,
    /// The run's tokens by kind, from its agent's transcripts; absent for
    /// reported counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<TokenDetail>,
}

/// One agent session's share of a run's tokens.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionTokens {
    /// An opaque short hash of the agent's session id: tells sessions apart
    /// without naming them.
    pub session: String,
    /// The agent that wrote it.
    pub agent: Option<TokenSource>,
    /// Input tokens not read from or written to the prompt cache.
    pub input: u64,
    /// Output tokens (reasoning included).
    pub output: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// The models its turns used.
    pub models: Vec<String>,
    /// Model responses counted.
    pub turns: u64,
    /// What its tokens cost, US dollars; `null` when a model has no price.
    pub cost_usd: Option<f64>,
}

/// Where token counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenSource {
    /// Claude Code's transcripts (`~/.claude/projects/…/*.jsonl`).
    ClaudeCode,
    /// OpenAI Codex CLI's session rollouts (`~/.codex/sessions/…`).
    Codex,
    /// Reported by the agent through the API.
    Api,
}

impl TokenSource {
    /// Its name in the contract: `claude-code`, `codex`, `api`.
    pub fn key(self) -> &'static str {
        match self {
            TokenSource::ClaudeCode => "claude-code",
            TokenSource::Codex => "codex",
            TokenSource::Api => "api",
        }
    }

    /// In words, as the page says it: `Claude Code`, `Codex`, `reported`.
    pub fn words(self) -> &'static str {
        match self {
            TokenSource::ClaudeCode => "Claude Code",
            TokenSource::Codex => "Codex",
            TokenSource::Api => "reported",
        }
    }
}

/// A run's tokens by kind, as its agent's transcripts record them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenDetail {
    /// Input tokens not read from the prompt cache.
    pub input: u64,
    /// Output tokens (reasoning included).
    pub output: u64,
    /// Input tokens written to the prompt cache (Claude's cache creation; 0 for Codex).
    pub cache_write: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// The models its turns used, as the transcripts name them.
    pub models: Vec<String>,
    /// Transcript sessions counted (each agent session is one file).
    pub sessions: u32,
    /// Model turns counted (each message or token-count event once).
    pub turns: u64,
    /// Tokens per minute between its first and last turn; `null` before two
    /// turns a second apart.
    pub burn_per_min: Option<f64>,
    /// The latest turn's context (its input, cache writes and cache reads).
    pub context_tokens: Option<u64>,
    /// The latest turn's model's context window, tokens.
    pub context_window: Option<u64>,
    /// `context_tokens` as a share of `context_window`, 0–100; `null` when
    /// either is not known (`usage_reason` says why).
    pub usage_percent: Option<f64>,
    /// Why `usage_percent` is `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_reason: Option<String>,
    /// What its tokens cost, US dollars, from each model's list price
    /// (PerfMon's table, or the server's `--prices` file); `null` when a model
    /// has no price (`cost_reason` names it).
    pub cost_usd: Option<f64>,
    /// Why `cost_usd` is `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_reason: Option<String>,
    /// Each agent session the run's tokens came from, with its own tokens by
    /// kind (the run's are their sum).
    #[serde(default)]
    pub by_session: Vec<SessionTokens>,
    /// Transcript lines that were not valid JSON or lacked the usage fields:
    /// skipped, counted.
    pub malformed_lines: u64,
    /// How its transcripts were tied to the run: `open files` (the run's
    /// processes hold them) or `project folder` (Claude Code's folder for the
    /// run's working directory, lines written since the run started).
    pub found_by: String,
}

/// Whole-machine CPU use.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cpu {
    /// Busy share of all cores, 0–100.
    pub percent: Option<f64>,
    /// Busy share of each logical core, 0–100, in core order.
    #[serde(default)]
    pub per_core: Vec<f64>,
    /// Run-queue load averages; `None` where the OS has none.
    #[serde(default)]
    pub load_average: Option<LoadAverage>,
}

/// Run-queue load averages, as `uptime` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LoadAverage {
    /// Over the last minute.
    pub one: f64,
    /// Over the last five minutes.
    pub five: f64,
    /// Over the last fifteen minutes.
    pub fifteen: f64,
}

/// Whole-machine memory use, in GB (GiB) with one decimal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Memory in use (total minus available).
    pub used_gb: Option<f64>,
    /// Installed memory.
    pub total_gb: Option<f64>,
    /// `used_gb / total_gb`, 0–100.
    pub percent: Option<f64>,
    /// Swap in use.
    #[serde(default)]
    pub swap_used_gb: Option<f64>,
    /// Swap configured (0 when there is none).
    #[serde(default)]
    pub swap_total_gb: Option<f64>,
}

/// Network traffic summed over every interface but loopback.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Network {
    /// Bytes received per second since the previous sample (0 on the first).
    pub rx_bytes_per_s: Option<f64>,
    /// Bytes sent per second since the previous sample (0 on the first).
    pub tx_bytes_per_s: Option<f64>,
    /// Bytes received since the interfaces came up.
    pub rx_total_bytes: Option<u64>,
    /// Bytes sent since the interfaces came up.
    pub tx_total_bytes: Option<u64>,
}

/// Disk traffic over physical disks, and the space where PerfMon runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Disk {
    /// Bytes read per second since the previous sample (0 on the first).
    pub read_bytes_per_s: Option<f64>,
    /// Bytes written per second since the previous sample (0 on the first).
    pub write_bytes_per_s: Option<f64>,
    /// Space used on the filesystem holding the server's working directory.
    pub used_gb: Option<f64>,
    /// Size of that filesystem.
    pub total_gb: Option<f64>,
}

/// PerfMon's own cost, so users see what watching costs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Monitor {
    /// The server's CPU use as a share of the whole machine, 0–100 (100 = every
    /// core busy), to three decimals: stated as the machine's `cpu.percent` and
    /// a run's `process.cpu_percent` are, so the page draws all three under one
    /// scale; the decimals keep PerfMon's small cost from reading as 0.
    pub cpu_percent: Option<f64>,
    /// The server's resident memory, in MB (MiB).
    pub rss_mb: Option<f64>,
}

/// NVIDIA GPU use, aggregated over all devices.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Gpu {
    /// Whether NVML answered; when false every value is `null` and `reason` says why.
    pub available: bool,
    /// Mean utilisation over devices, 0–100.
    pub percent: Option<f64>,
    /// Video memory in use, summed over devices.
    pub vram_used_gb: Option<f64>,
    /// Video memory installed, summed over devices.
    pub vram_total_gb: Option<f64>,
    /// Why the GPU is not available, in plain words (never a path or a host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each device, in NVML index order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<GpuDevice>,
}

/// One NVIDIA device. Values it does not report are `null`; those its driver
/// does not support are also named in `not_supported`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuDevice {
    /// NVML's index of the device.
    pub index: u32,
    /// The product name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Whether the device answered; when false its values are `null` and
    /// `reason` says why (`GPU is lost`).
    #[serde(default = "answered")]
    pub available: bool,
    /// Why the device did not answer, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fields the device's driver does not support (any of the numeric fields
    /// below and `pstate`, `clock_event_reasons`, by their JSON names): `null` by
    /// design, not a failed read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_supported: Vec<String>,
    /// Utilisation, 0–100.
    pub percent: Option<f64>,
    /// Video memory in use.
    pub vram_used_gb: Option<f64>,
    /// Video memory installed.
    pub vram_total_gb: Option<f64>,
    /// Core temperature in °C.
    pub temperature_c: Option<f64>,
    /// Power draw in watts.
    pub power_w: Option<f64>,
    /// SM (streaming multiprocessor) clock now, MHz.
    #[serde(default)]
    pub sm_clock_mhz: Option<u32>,
    /// The highest SM clock the device runs at, MHz.
    #[serde(default)]
    pub sm_clock_max_mhz: Option<u32>,
    /// Memory clock now, MHz.
    #[serde(default)]
    pub memory_clock_mhz: Option<u32>,
    /// The highest memory clock, MHz.
    #[serde(default)]
    pub memory_clock_max_mhz: Option<u32>,
    /// Performance state, `P0` (fastest) to `P15` (slowest).
    #[serde(default)]
    pub pstate: Option<String>,
    /// Why the clocks are held below their maximum now, by name, in NVML's bit
    /// order (see [`GPU_CLOCK_EVENT_REASONS`]); empty when nothing holds them,
    /// `null` when unreadable.
    #[serde(default)]
    pub clock_event_reasons: Option<Vec<String>>,
    /// PCIe traffic into the device, bytes per second (NVML's figure over its
    /// last 20 ms window).
    #[serde(default)]
    pub pcie_rx_bytes_per_s: Option<f64>,
    /// PCIe traffic out of the device, bytes per second.
    #[serde(default)]
    pub pcie_tx_bytes_per_s: Option<f64>,
    /// How old the PCIe figures are, ms, when they were carried from an earlier
    /// reading (a driver whose PCIe query is slow is asked at most every 5 s);
    /// absent when they were read for this sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie_age_ms: Option<u64>,
    /// Video encoder utilisation, 0–100.
    #[serde(default)]
    pub encoder_percent: Option<f64>,
    /// Video decoder utilisation, 0–100.
    #[serde(default)]
    pub decoder_percent: Option<f64>,
    /// Fan speed (the first fan), 0–100 % of its maximum.
    #[serde(default)]
    pub fan_percent: Option<f64>,
    /// Memory-controller utilisation (time spent reading or writing device
    /// memory), 0–100.
    #[serde(default)]
    pub memory_controller_percent: Option<f64>,
    /// Power from the energy counter: the energy used since the previous sample
    /// over the time between, watts; `null` on the first sample and after the
    /// counter restarts.
    #[serde(default)]
    pub energy_power_w: Option<f64>,
    /// The energy counter: joules used since the driver loaded. The joules of a
    /// span are the difference between its ends (a counter that went backwards
    /// restarted).
    #[serde(default)]
    pub energy_total_j: Option<f64>,
}

/// The names `GpuDevice::clock_event_reasons` uses, for NVML's clock-event
/// reason bits 0 to 8 in order (`nvmlClocksEventReason*`).
pub const GPU_CLOCK_EVENT_REASONS: [&str; 9] = [
    "gpu_idle",
    "applications_clocks_setting",
    "sw_power_cap",
    "hw_slowdown",
    "sync_boost",
    "sw_thermal_slowdown",
    "hw_thermal_slowdown",
    "hw_power_brake_slowdown",
    "display_clock_setting",
];

impl Default for GpuDevice {
    fn default() -> Self {
        GpuDevice {
            index: 0,
            name: String::new(),
            available: true,
            reason: None,
            not_supported: Vec::new(),
            percent: None,
            vram_used_gb: None,
            vram_total_gb: None,
            temperature_c: None,
            power_w: None,
            sm_clock_mhz: None,
            sm_clock_max_mhz: None,
            memory_clock_mhz: None,
            memory_clock_max_mhz: None,
            pstate: None,
            clock_event_reasons: None,
            pcie_rx_bytes_per_s: None,
            pcie_tx_bytes_per_s: None,
            pcie_age_ms: None,
            encoder_percent: None,
            decoder_percent: None,
            fan_percent: None,
            memory_controller_percent: None,
            energy_power_w: None,
            energy_total_j: None,
        }
    }
}

/// Devices from servers that predate per-device state answered whenever listed.
fn answered() -> bool {
    true
}

/// Why the server refused a client message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// What went wrong, for programs to branch on.
    pub code: ErrorCode,
    /// What went wrong, for people to read.
    pub message: String,
}

/// Machine-readable error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON.
    InvalidJson,
    /// Valid JSON, but not a [`ClientMsg`] this server knows.
    UnsupportedMessage,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// The project name in the URL is not acceptable.
    InvalidProject,
    /// The project has too many watchers or the server too many projects.
    Busy,
    /// The request's origin or credentials are not accepted.
    Forbidden,
    /// Sampling failed and the sampler was restarted; data resumes next tick.
    SamplerRestarted,
    /// A code from a newer server that this build does not know.
    #[serde(other)]
    Unknown,
}
