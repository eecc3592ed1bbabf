//! SYN mode, only ever inside a network namespace this test creates (its own loopback and
//! nothing else, so no packet can leave), pinned to that namespace's `lo`.

use std::process::{Child, Command, Stdio};

/// A throwaway namespace with listeners on `PORTS`; deleted (and its listener killed) on drop.
struct Netns {
    name: String,
    listener: Option<Child>,
}

const PORTS: [u16; 12] = [
    1, 22, 80, 443, 5432, 6379, 8123, 9000, 31337, 40000, 40001, 65535,
];

impl Netns {
    fn new() -> Option<Netns> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let have_ip = Command::new("ip").arg("-V").output().is_ok();
        if !root || !have_ip {
            if std::env::var("LH_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!("SYN tests need root and iproute2 under LH_REQUIRE_SERVERS=1");
            }
            eprintln!("SKIPPED: SYN tests need root and iproute2 (ip netns)");
            return None;
        }
        let name = format!("lh-syn-{}", std::process::id());
        fn ok(c: &mut Command) {
            assert!(c.status().unwrap().success(), "{c:?}");
        }
        ok(Command::new("ip").args(["netns", "add", &name]));
        let mut ns = Netns {
            name,
            listener: None,
        };
        ok(&mut ns.exec(&["ip", "link", "set", "lo", "up"]));
        let ports: Vec<String> = PORTS.iter().map(|p| p.to_string()).collect();
        let script = format!(
            "import socket,time,sys\nls=[]\nfor p in [{}]:\n s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('127.0.0.1',p)); s.listen(512); ls.append(s)\nprint('ready',flush=True)\ntime.sleep(120)\n",
            ports.join(",")
        );
        let mut child = ns
            .exec(&["python3", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        ns.listener = Some(child);
        Some(ns)
    }

    fn exec(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    fn scan(&self, extra: &[&str]) -> (Vec<String>, std::process::Output) {
        let bin = assert_cmd::cargo::cargo_bin("leakhound");
        let mut args = vec![
            bin.to_str().unwrap(),
            "scan",
            "127.0.0.1",
            "-p",
            "1-2023,2025-65535",
            "--discovery-only",
            "--no-store",
            "-q",
        ];
        args.extend_from_slice(extra);
        let out = self.exec(&args).output().unwrap();
        let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        found.sort();
        (found, out)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut c) = self.listener.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn syn_mode_finds_exactly_what_connect_mode_finds() {
    let Some(ns) = Netns::new() else {
        return;
    };
    let mut truth: Vec<String> = PORTS.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    truth.sort();
    let (connect, out) = ns.scan(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(connect, truth, "connect mode");
    let (syn, out) = ns.scan(&["--syn", "--interface", "lo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(syn, truth, "SYN mode");
}

#[test]
fn syn_mode_refuses_to_run_without_a_pinned_interface() {
    let out = super::leakhound()
        .args(["scan", "127.0.42.23", "-p", "1", "--syn", "--no-store"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interface"));
}
