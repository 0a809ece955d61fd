"""A real systemd (the host's, 252 on Debian) booted as PID 1 in its own namespaces, for the
appliance tests: an overlay of / (so installing an RPM changes nothing on the host), its own
/dev with a few spare virtual consoles as stand-in serial ports, its own cgroup2 subtree
(device BPF programs outlive a boot; a fresh subtree per boot keeps boots apart), udevd
inside. ``Machine.run`` runs a command inside, as ``nsenter`` does."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional

# Host units that make no sense in this container (or would make the boot slow or noisy).
MASK = [
    "systemd-udev-trigger.service", "systemd-udev-settle.service", "getty.target", "getty@tty1.service",
    "console-getty.service", "serial-getty@.service", "timers.target", "apt-daily.timer", "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer", "man-db.timer",
    "systemd-tmpfiles-clean.timer", "mosquitto.service", "postgresql.service", "remote-fs.target",
    "systemd-pstore.service", "systemd-timesyncd.service", "systemd-firstboot.service", "systemd-repart.service",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "systemd-modules-load.service",
    "systemd-sysusers.service", "systemd-random-seed.service", "systemd-machine-id-commit.service",
    "systemd-pcrphase.service", "systemd-pcrphase-sysinit.service", "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service", "systemd-logind.service", "dbus.service", "dbus.socket",
    "systemd-journal-flush.service", "systemd-journald-audit.socket", "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path", "dev-hugepages.mount", "dev-mqueue.mount", "sys-kernel-config.mount",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount", "kmod-static-nodes.service",
    "systemd-tmpfiles-setup-dev.service", "systemd-sysctl.service", "cryptsetup.target", "veritysetup.target",
    "integritysetup.target", "systemd-initctl.socket", "systemd-hwdb-update.service", "ldconfig.service",
    "systemd-journal-catalog-update.service", "systemd-update-done.service", "systemd-networkd.service",
    "systemd-resolved.service", "networking.service", "ssh.service", "cron.service",
]

TARGET = """[Unit]
Description=pyhm test boot
Requires=sysinit.target
After=sysinit.target
Wants=systemd-journald.service systemd-udevd.service
AllowIsolate=yes
"""

# Runs as PID 1 of the new PID namespace: builds the root, then becomes systemd.
SETUP = r"""
set -eu
T="$1"; SITE="$2"
mount -t tmpfs -o size=2g,mode=0755 tmpfs "$T"
mkdir -p "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
R="$T/root"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,size=64m tmpfs "$R/dev"
for n in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0" "tty60 4 60" "tty61 4 61" \
         "tty62 4 62" "tty63 4 63"; do
  set -- $n; mknod -m 0666 "$R/dev/$1" c "$2" "$3"
done
chmod 0620 "$R"/dev/tty6?
mknod -m 0600 "$R/dev/console" c 1 3
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mkdir -p "$R/etc/systemd/system" "$R/etc/udev/rules.d"
for u in $MASK; do ln -sf /dev/null "$R/etc/systemd/system/$u"; done
printf '%s' "$TARGET" > "$R/etc/systemd/system/pyhm-test.target"
rm -f "$R/etc/machine-id"; : > "$R/etc/machine-id"
# Debian's python3 does not read Fedora's site-packages (where the RPM puts pyhm); the
# dependencies come from the test's environment (the RPM's python3dist() requirements),
# bound to a fixed place: the checkout may lie under /tmp, which the machine has anew.
if [ -d "$R/usr/lib/python3/dist-packages" ]; then
  mkdir -p "$R/opt/pyhm-test-site"
  mount --bind "$SITE" "$R/opt/pyhm-test-site"
  mount -o remount,bind,ro "$R/opt/pyhm-test-site"
  printf '/usr/lib/python3.%s/site-packages\n/opt/pyhm-test-site\n' "$(python3 -c 'import sys; print(sys.version_info[1])')" \
    > "$R/usr/lib/python3/dist-packages/zz-pyhm-test.pth"
fi
mkdir -p "$R/oldroot"
cd "$R"
pivot_root . oldroot
umount -l /oldroot
rmdir /oldroot
exec /lib/systemd/systemd --system --unit=pyhm-test.target --log-target=journal-or-kmsg --log-level=info
"""


def cgroup2_mount() -> Path:
    """Where the host mounts its cgroup2 hierarchy (on a hybrid host: /sys/fs/cgroup/unified)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        if right.split()[0] == "cgroup2":
            return Path(left.split()[4])
    raise RuntimeError("no cgroup2 hierarchy mounted")


def own_cgroup() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


def why_not() -> Optional[str]:
    """The reason this machine cannot boot the container, or None."""
    if sys.platform != "linux":
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (namespaces, mounts, cgroups); CI runs the suite as root"
    for tool in ("unshare", "nsenter", "pivot_root", "mknod", "rpm"):
        if shutil.which(tool) is None:
            return f"{tool} missing (scripts/dev installs it)"
    if not Path("/lib/systemd/systemd").exists() or shutil.which("udevadm") is None:
        return "systemd and udev missing (scripts/dev installs them)"
    try:
        cgroup2_mount()
    except RuntimeError as exc:
        return str(exc)
    return None


class Machine:
    """One boot. ``boot()``, then ``run()``/``sh()`` inside, ``shutdown()`` at the end."""

    def __init__(self, base: Path, site: str) -> None:
        self.base = base
        self.site = site
        self.cgroup = cgroup2_mount() / own_cgroup().lstrip("/") / f"pyhm-systemd-{os.getpid()}-{time.monotonic_ns()}"
        self.proc: Optional[subprocess.Popen] = None
        self.pid = 0

    def boot(self, timeout: float = 90) -> None:
        (self.base / "ct").mkdir(parents=True, exist_ok=True)
        self.cgroup.mkdir()
        log = open(self.base / "boot.log", "wb")
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MASK": " ".join(MASK), "TARGET": TARGET,
               "container": "pyhm-test", "LANG": "C.UTF-8"}
        # Into the fresh cgroup first, so that the cgroup namespace (and systemd's tree) starts there.
        starter = (f"echo $$ > {shlex.quote(str(self.cgroup / 'cgroup.procs'))} && exec unshare --pid --fork --mount "
                   f"--net --uts --ipc --cgroup --propagation private bash -c \"$SETUP\" setup "
                   f"{shlex.quote(str(self.base / 'ct'))} {shlex.quote(self.site)}")
        self.proc = subprocess.Popen(["sh", "-c", starter], env={**env, "SETUP": SETUP}, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pid = self._child()
            if self.pid and os.readlink(f"/proc/{self.pid}/exe").endswith("/systemd"):
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"systemd did not boot: {(self.base / 'boot.log').read_text(errors='replace')[-3000:]}")

    def _child(self) -> int:
        assert self.proc is not None
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return 0
        return int(kids[0]) if kids else 0

    @property
    def root(self) -> Path:
        """The machine's / as the host sees it."""
        return Path(f"/proc/{self.pid}/root")

    def run(self, *cmd: str, check: bool = True, timeout: float = 120, input: Optional[str] = None
            ) -> subprocess.CompletedProcess:
        result = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "--", *cmd], capture_output=True, text=True,
                                timeout=timeout, input=input, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                                   "LANG": "C.UTF-8", "SYSTEMD_PAGER": "",
                                                                   "SYSTEMD_COLORS": "0"})
        if check and result.returncode != 0:
            raise AssertionError(f"{cmd} exited {result.returncode}: {result.stdout[-2000:]}{result.stderr[-2000:]}")
        return result

    def sh(self, script: str, check: bool = True, timeout: float = 120) -> str:
        return self.run("sh", "-c", script, check=check, timeout=timeout).stdout

    def python(self, code: str, *args: str, timeout: float = 60) -> str:
        return self.run("python3", "-c", code, *args, timeout=timeout).stdout

    def show(self, unit: str, prop: str) -> str:
        return self.run("systemctl", "show", unit, "-p", prop, "--value").stdout.strip()

    def journal(self, unit: str = "", since: str = "") -> str:
        args = ["journalctl", "--no-pager", "-o", "cat"] + (["-u", unit] if unit else []) + (
            ["--cursor", since] if since else [])
        return self.run(*args, check=False).stdout

    def cursor(self) -> str:
        out = self.run("journalctl", "-n", "0", "--show-cursor", "--no-pager", check=False).stdout
        return out.rsplit("-- cursor: ", 1)[-1].strip() if "-- cursor: " in out else ""

    def wait(self, what: str, check: Callable[[], object], timeout: float = 60, every: float = 0.5) -> object:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(every)

    def shutdown(self) -> None:
        """Power off (or kill) the machine; remove its cgroup subtree. Its mounts go with its
        mount namespace."""
        if self.proc is not None and self.proc.poll() is None:
            if self.pid:
                subprocess.run(["nsenter", "-t", str(self.pid), "-a", "systemctl", "poweroff", "--no-block"],
                               capture_output=True, timeout=30)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                if self.pid:
                    os.kill(self.pid, signal.SIGKILL)  # the namespace's init: takes every process inside with it
                self.proc.wait(timeout=30)
        remove_cgroup(self.cgroup)


def remove_cgroup(path: Path) -> None:
    """Remove a cgroup2 subtree, leaves first (the kernel removes only empty directories)."""
    if not path.exists():
        return
    for _ in range(50):
        dirs: List[Path] = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        try:
            for d in dirs + [path]:
                d.rmdir()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"cannot remove the cgroup {path}")
