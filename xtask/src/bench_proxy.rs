//! `cargo xtask bench-proxy`: gwsim serve beside nginx, one worker each, under wrk on
//! loopback, with the same upstream (an nginx static server) for both. A benchmark: it
//! prints figures and never fails on them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const UPSTREAM: &str = "127.0.0.1:19080";
const CONNECTIONS: &str = "50";
/// wrk runs per side and route count; the figures shown are their medians.
const RUNS: usize = 7;

/// How long each wrk run lasts, and when the reload happens in its run.
#[derive(Clone, Copy)]
struct Timing {
    run: Duration,
    reload_after: Duration,
}

const FULL: Timing = Timing {
    run: Duration::from_secs(10),
    reload_after: Duration::from_secs(3),
};

/// `--quick`: a few seconds per run, to check that the script works (figures are rough).
const QUICK: Timing = Timing {
    run: Duration::from_secs(3),
    reload_after: Duration::from_millis(500),
};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let timing = match args {
        [] => FULL,
        [flag] if flag == "--quick" => QUICK,
        _ => bail!("usage: cargo xtask bench-proxy [--quick]"),
    };
    install("nginx", "nginx")?;
    install("wrk", "wrk")?;
    let status = Command::new(super::env_cargo())
        .args(["build", "--release", "--quiet", "--bin", "gwsim"])
        .status()
        .context("building gwsim")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let dir = std::env::temp_dir().join("gwsim-bench-proxy");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("logs"))?;
    let upstream = nginx(&dir, "upstream", &upstream_config(&dir))?;
    println!("load average before: {}", load_average());
    // Every proxy runs for the whole benchmark and the runs take turns, round by round
    // (gwsim then nginx, 100 routes then 10,000), so that the machine's drift falls on every
    // figure alike and each round's ratios compare runs made seconds apart.
    let mut sides = Vec::new();
    for (routes, offset, nginx_port) in [(100usize, "19000", 19081u16), (10_000, "19100", 19082)] {
        let state = dir.join(format!("routes-{routes}.yaml"));
        std::fs::write(&state, gwsim_config(routes, ""))?;
        let (gwsim, gwsim_url) = gwsim_serve(&dir, &state, offset, routes)?;
        let conf = dir.join(format!("nginx-{routes}.conf"));
        std::fs::write(&conf, nginx_config(&dir, routes, nginx_port))?;
        let proxy = nginx(&dir, &format!("proxy-{routes}"), &conf)?;
        let target = format!("/r{}/item", routes / 2);
        sides.push(Side {
            routes,
            state,
            gwsim,
            gwsim_url: format!("{gwsim_url}{target}"),
            nginx: proxy,
            nginx_url: format!("http://127.0.0.1:{nginx_port}{target}"),
            g_runs: Vec::new(),
            n_runs: Vec::new(),
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    // Warmed the same way (connections to the upstream opened).
    for side in &sides {
        wrk(&side.gwsim_url, Duration::from_secs(1))?;
        wrk(&side.nginx_url, Duration::from_secs(1))?;
    }
    for _ in 0..RUNS {
        for side in &mut sides {
            let g = measure(side.gwsim.id(), &side.gwsim_url, timing.run)?;
            side.g_runs.push(g);
            let n = measure(side.nginx.id(), &side.nginx_url, timing.run)?;
            side.n_runs.push(n);
        }
    }
    let mut rows = Vec::new();
    let mut rounds = Vec::new();
    for side in &mut sides {
        rounds.push((side.routes, paired(&side.g_runs, &side.n_runs)));
        rows.push((
            format!("gwsim serve, {} routes", side.routes),
            median(&side.g_runs),
            rss_kib(side.gwsim.id()),
        ));
        rows.push((
            format!("nginx, {} routes", side.routes),
            median(&side.n_runs),
            nginx_rss(side.nginx.id()),
        ));
        let _ = side.nginx.kill();
        let _ = side.nginx.wait();
    }
    // gwsim at 10,000 routes over gwsim at 100, round by round.
    let scale: Vec<f64> = match sides.as_slice() {
        [small, large] => large
            .g_runs
            .iter()
            .zip(&small.g_runs)
            .map(|(l, s)| l.rps / s.rps.max(1.0))
            .collect(),
        _ => Vec::new(),
    };

    // Reload of a 10,000-route change under load: every route gets a response header.
    for side in sides.iter_mut().filter(|s| s.routes == 10_000) {
        let load = std::thread::spawn({
            let url = side.gwsim_url.clone();
            let run = timing.run.max(Duration::from_secs(5));
            move || wrk(&url, run)
        });
        std::thread::sleep(timing.reload_after);
        std::fs::write(&side.state, gwsim_config(side.routes, "X-Changed"))?;
        let during = load
            .join()
            .map_err(|_| anyhow::anyhow!("wrk thread panicked"))??;
        let changed = fetch_header(&side.gwsim_url)?;
        println!(
            "reload of a 10,000-route change under load: {} requests, {} failed (non-2xx or socket errors); change in service: {changed}",
            during.requests, during.failed
        );
    }
    for side in &mut sides {
        stop(&mut side.gwsim);
    }
    println!("load average after: {}", load_average());
    let mut upstream = upstream;
    let _ = upstream.kill();
    let _ = upstream.wait();

    println!(
        "\n{:<28} {:>12} {:>10} {:>10} {:>14} {:>14}",
        "", "requests/s", "p50", "p99", "max RSS", "CPU/request"
    );
    for (name, figures, rss) in &rows {
        println!(
            "{name:<28} {:>12.0} {:>10} {:>10} {:>10} MiB {:>11.1} us",
            figures.rps,
            show(figures.p50),
            show(figures.p99),
            rss / 1024,
            figures.cpu_micros.unwrap_or(f64::NAN)
        );
    }
    if let [g100, n100, g10k, n10k] = rows.as_slice() {
        println!(
            "\ngoals (issue 12): throughput >= nginx, p99 <= 1.2x nginx, 10k within 10% of 100"
        );
        for (routes, (_, g, _), (_, n, _)) in [("100", g100, n100), ("10,000", g10k, n10k)] {
            println!(
                "  {routes} routes: throughput {:.2}x nginx, p99 {} nginx (CPU per request {} nginx's)",
                g.rps / n.rps.max(1.0),
                ratio(g.p99, n.p99),
                ratio(g.cpu_micros, n.cpu_micros)
            );
        }
        println!(
            "  gwsim at 10,000 routes: {:.1}% of its 100-route throughput (medians), {:.1}% (median of the rounds' ratios)",
            100.0 * g10k.1.rps / g100.1.rps.max(1.0),
            100.0 * mid(scale.clone())
        );
    }
    // Each round runs gwsim then nginx back to back: their ratio within a round is what
    // the machine's drift between rounds touches least.
    println!("\ngwsim / nginx within each round (the two runs back to back):");
    for (routes, round) in &rounds {
        let shown = |values: &[f64]| {
            values
                .iter()
                .map(|v| format!("{v:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let at_least = round.throughput.iter().filter(|r| **r >= 1.0).count();
        println!(
            "  {routes} routes: throughput {} (median {:.2}, {at_least} of {} rounds >= 1); CPU per request {} (median {:.2})",
            shown(&round.throughput),
            mid(round.throughput.clone()),
            round.throughput.len(),
            shown(&round.cpu),
            mid(round.cpu.clone()),
        );
    }
    println!(
        "\nwrk -t1 -c{CONNECTIONS} -d{}s --latency on loopback, {RUNS} runs per side in turns, medians; one worker each; keep-alive to the upstream on both sides; upstream: nginx static on {UPSTREAM}",
        timing.run.as_secs()
    );
    Ok(())
}

/// `a / b` for two latencies, as `1.05x`.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "(unknown)x".to_string(),
    }
}

/// A latency in microseconds as wrk writes it (`850.00us`, `1.20ms`).
fn show(micros: Option<f64>) -> String {
    match micros {
        Some(m) if m >= 1000.0 => format!("{:.2}ms", m / 1000.0),
        Some(m) => format!("{m:.0}us"),
        None => "?".to_string(),
    }
}

/// wrk's latency (`850.00us`, `1.20ms`, `1.02s`) in microseconds.
fn micros(latency: &str) -> Option<f64> {
    let split = latency.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = latency.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        "m" => 60_000_000.0,
        _ => return None,
    };
    Some(number * scale)
}

/// A wrk run against the proxy `pid`, with the proxy's CPU time (user and system) per
/// request: on a busy machine requests per second say more about the other programs than
/// about the proxy, its CPU time per request much less.
fn measure(pid: u32, url: &str, run: Duration) -> anyhow::Result<Figures> {
    let before = cpu_ticks(pid);
    let mut figures = wrk(url, run)?;
    let after = cpu_ticks(pid);
    figures.cpu_micros = match (before, after, clock_ticks()) {
        (Some(b), Some(a), Some(hz)) if figures.requests > 0 => {
            Some((a - b) as f64 * 1_000_000.0 / hz / figures.requests as f64)
        }
        _ => None,
    };
    Ok(figures)
}

/// utime + stime of a process, in clock ticks (/proc/PID/stat, fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`).
fn clock_ticks() -> Option<f64> {
    let output = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// One route count: its gwsim and its nginx, and their runs.
struct Side {
    routes: usize,
    /// The file gwsim serves (and watches).
    state: PathBuf,
    gwsim: Child,
    gwsim_url: String,
    nginx: Child,
    nginx_url: String,
    g_runs: Vec<Figures>,
    n_runs: Vec<Figures>,
}

/// gwsim's figures over nginx's, round by round.
struct Paired {
    throughput: Vec<f64>,
    cpu: Vec<f64>,
}

fn paired(gwsim: &[Figures], nginx: &[Figures]) -> Paired {
    let pairs = || gwsim.iter().zip(nginx);
    Paired {
        throughput: pairs().map(|(g, n)| g.rps / n.rps.max(1.0)).collect(),
        cpu: pairs()
            .filter_map(|(g, n)| Some(g.cpu_micros? / n.cpu_micros?))
            .collect(),
    }
}

/// The median (the upper one of an even count); 0 for none.
fn mid(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The median of each figure over the runs, taken figure by figure.
fn median(runs: &[Figures]) -> Figures {
    let latency = |pick: fn(&Figures) -> Option<f64>| {
        let values: Vec<f64> = runs.iter().filter_map(pick).collect();
        (values.len() == runs.len()).then(|| mid(values))
    };
    let cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_micros).collect();
    Figures {
        rps: mid(runs.iter().map(|r| r.rps).collect()),
        cpu_micros: (cpu.len() == runs.len()).then(|| mid(cpu)),
        p50: latency(|r| r.p50),
        p99: latency(|r| r.p99),
        requests: runs.iter().map(|r| r.requests).sum(),
        failed: runs.iter().map(|r| r.failed).sum(),
    }
}

/// The 1, 5 and 15 minute load averages: the figures mean little on a busy machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "(unknown)".to_string())
}

fn install(binary: &str, package: &str) -> anyhow::Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .stdout(Stdio::null())
        .status()?
        .success()
        || Path::new(&format!("/usr/sbin/{binary}")).exists();
    if found {
        return Ok(());
    }
    println!("installing {package} with apt-get");
    let status = Command::new("sh")
        .args([
            "-c",
            &format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}"),
        ])
        .status()?;
    if !status.success() {
        bail!("apt-get install {package} failed");
    }
    Ok(())
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn nginx(dir: &Path, name: &str, conf: &Path) -> anyhow::Result<Child> {
    let child = Command::new(nginx_binary())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .args(["-g", &format!("pid {}/{name}.pid;", dir.display())])
        .stderr(Stdio::null())
        .spawn()
        .context("starting nginx")?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

fn common(dir: &Path) -> String {
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {}/logs/error.log error;\nevents {{ worker_connections 4096; }}\n",
        dir.display()
    )
}

fn upstream_config(dir: &Path) -> PathBuf {
    let conf = dir.join("upstream.conf");
    let text = format!(
        "{}http {{\n access_log off;\n server {{\n  listen {UPSTREAM};\n  keepalive_requests 1000000;\n  location / {{ return 200 'ok'; }}\n }}\n}}\n",
        common(dir)
    );
    let _ = std::fs::write(&conf, text);
    conf
}

/// The same routes as nginx locations: `/r{i}` prefixes to the same upstream.
fn nginx_config(dir: &Path, routes: usize, port: u16) -> String {
    let mut text = common(dir);
    let _ = write!(
        text,
        "http {{\n access_log off;\n upstream up {{ server {UPSTREAM}; keepalive 64; }}\n server {{\n  listen 127.0.0.1:{port};\n  keepalive_requests 1000000;\n  proxy_http_version 1.1;\n  proxy_set_header Connection \"\";\n"
    );
    for i in 0..routes {
        let _ = writeln!(text, "  location /r{i}/ {{ proxy_pass http://up; }}");
    }
    text.push_str("  location / { return 404; }\n }\n}\n");
    text
}

/// One Gateway, `routes` HTTPRoutes of one rule each (`/r{i}/` prefix), one Service sent to
/// the upstream with --backend. `header`: a response header every rule adds (a change).
fn gwsim_config(routes: usize, header: &str) -> String {
    let mut text = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gwsim}\nspec: {controllerName: gateway.gwsim.dev/controller}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: bench}\nspec:\n  gatewayClassName: gwsim\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: up, namespace: bench}\nspec:\n  ports: [{name: http, port: 8080}]\n",
    );
    let filters = if header.is_empty() {
        String::new()
    } else {
        format!(
            ", filters: [{{type: ResponseHeaderModifier, responseHeaderModifier: {{add: [{{name: {header}, value: x}}]}}}}]"
        )
    };
    for i in 0..routes {
        let _ = write!(
            text,
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r{i}, namespace: bench}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules: [{{matches: [{{path: {{type: PathPrefix, value: /r{i}/}}}}], backendRefs: [{{name: up, port: 8080}}]{filters}}}]\n"
        );
    }
    text
}

/// `gwsim serve` of `state`, its listener port 80 on 80 + `offset`.
fn gwsim_serve(
    dir: &Path,
    state: &Path,
    offset: &str,
    routes: usize,
) -> anyhow::Result<(Child, String)> {
    let ready = dir.join(format!("ready-{routes}.json"));
    let _ = std::fs::remove_file(&ready);
    let child = Command::new("target/release/gwsim")
        .args(["serve", "--workers", "1", "--port-offset", offset])
        .arg("-f")
        .arg(state)
        .arg("--backend")
        .arg(format!("bench/up=http://{UPSTREAM}"))
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .spawn()
        .context("starting gwsim serve")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && let Some(start) = text.find("\"url\": \"")
        {
            let rest = &text[start + 8..];
            let url = rest.split('"').next().unwrap_or_default().to_string();
            return Ok((child, url));
        }
        if Instant::now() > deadline {
            bail!("gwsim serve did not become ready");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

struct Figures {
    rps: f64,
    /// Microseconds.
    p50: Option<f64>,
    p99: Option<f64>,
    requests: u64,
    failed: u64,
    /// The proxy's CPU time per request, in microseconds (when measured).
    cpu_micros: Option<f64>,
}

fn wrk(url: &str, run: Duration) -> anyhow::Result<Figures> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{}s", run.as_secs()),
            "--latency",
            url,
        ])
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.trim_start()[prefix.len()..].trim().to_string())
    };
    let rps = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("wrk output without Requests/sec:\n{text}"))?;
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let socket_errors: u64 = field("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(Figures {
        rps,
        p50: field("50%").as_deref().and_then(micros),
        p99: field("99%").as_deref().and_then(micros),
        requests,
        failed: non_2xx + socket_errors,
        cpu_micros: None,
    })
}

/// Whether the changed table is in service: the answer carries the header the change adds.
fn fetch_header(url: &str) -> anyhow::Result<bool> {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", url])
        .output()
        .context("running curl")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .to_ascii_lowercase()
        .contains("x-changed: x"))
}

/// The process's peak resident memory (VmHWM), in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// nginx runs without a master here (`master_process off`): one process.
fn nginx_rss(pid: u32) -> u64 {
    rss_kib(pid)
}
