//! The jail's seccomp filters, compiled to classic BPF with `seccompiler`
//! (rust-vmm's filter compiler, used by Firecracker) rather than by hand.
//!
//! Two layers:
//! * [`base_filter`] applies to the whole jail (bubblewrap loads it with
//!   `--add-seccomp-fd` before the template process starts): kernel-attack
//!   surface no image code needs — `ptrace`, `mount`, `bpf`, `keyctl`,
//!   `unshare`/`setns`, `perf_event_open`, `personality`, `kexec_*`, module
//!   and reboot calls, `io_uring`, `userfaultfd`, ... — fails with `EPERM`.
//! * [`episode_filters`] are added by each episode interpreter (a fork of the
//!   template) before it runs model code: no new processes (`clone` without
//!   `CLONE_THREAD`, `fork`, `vfork`; `clone3` reports `ENOSYS` so glibc falls
//!   back to `clone` for threads), no `execve`, no signals to other processes,
//!   no new sockets, no `prlimit64` on another process.

use crate::SandboxError;
use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

/// A compiled filter as the kernel's `struct sock_filter` array (8 bytes per instruction).
pub type Program = Vec<u8>;

fn arch() -> Result<TargetArch, SandboxError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| SandboxError::Jail(format!("seccomp filters are not available for {}", std::env::consts::ARCH)))
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<Program, SandboxError> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno as u32), arch()?)
        .map_err(|e| SandboxError::Jail(format!("seccomp filter: {e}")))?;
    let prog: BpfProgram = filter.try_into().map_err(|e| SandboxError::Jail(format!("seccomp filter: {e:?}")))?;
    let mut bytes = Vec::with_capacity(prog.len() * 8);
    for ins in prog {
        bytes.extend_from_slice(&ins.code.to_ne_bytes());
        bytes.push(ins.jt);
        bytes.push(ins.jf);
        bytes.extend_from_slice(&ins.k.to_ne_bytes());
    }
    Ok(bytes)
}

fn deny_all(names: &[libc::c_long]) -> BTreeMap<i64, Vec<SeccompRule>> {
    names.iter().map(|&n| (n, Vec::new())).collect()
}

/// Syscalls refused to everything in the jail.
pub fn base_denied() -> Vec<libc::c_long> {
    let mut v = vec![
        libc::SYS_ptrace,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_bpf,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_perf_event_open,
        libc::SYS_personality,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_syslog,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_kcmp,
        libc::SYS_pidfd_getfd,
        libc::SYS_vhangup,
        libc::SYS_mknodat,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_iopl, libc::SYS_ioperm, libc::SYS_mknod, libc::SYS_uselib, libc::SYS_lookup_dcookie]);
    v
}

/// The filter for the whole jail.
pub fn base_filter() -> Result<Program, SandboxError> {
    compile(deny_all(&base_denied()), libc::EPERM)
}

/// The filters an episode interpreter adds before model code runs: one
/// answering `EPERM`, one answering `ENOSYS` (for `clone3`).
pub fn episode_filters() -> Result<Vec<Program>, SandboxError> {
    let mut names = vec![
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_kill,
        libc::SYS_tkill,
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
        libc::SYS_pidfd_open,
        libc::SYS_pidfd_send_signal,
        libc::SYS_socket,
        libc::SYS_socketpair,
    ];
    #[cfg(target_arch = "x86_64")]
    names.extend([libc::SYS_fork, libc::SYS_vfork]);
    let mut rules = deny_all(&names);
    // clone(flags, ...) makes a process unless CLONE_THREAD is set.
    let not_thread = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
        0,
    )
    .map_err(|e| SandboxError::Jail(format!("seccomp condition: {e}")))?;
    rules.insert(libc::SYS_clone, vec![SeccompRule::new(vec![not_thread]).map_err(|e| SandboxError::Jail(format!("seccomp rule: {e}")))?]);
    // prlimit64(pid, ...) on anything but the calling process (pid 0).
    let other_pid = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0)
        .map_err(|e| SandboxError::Jail(format!("seccomp condition: {e}")))?;
    rules.insert(libc::SYS_prlimit64, vec![SeccompRule::new(vec![other_pid]).map_err(|e| SandboxError::Jail(format!("seccomp rule: {e}")))?]);
    let eperm = compile(rules, libc::EPERM)?;
    let enosys = compile(deny_all(&[libc::SYS_clone3]), libc::ENOSYS)?;
    Ok(vec![eperm, enosys])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_this_arch() {
        let base = base_filter().unwrap();
        assert!(!base.is_empty() && base.len().is_multiple_of(8));
        let ep = episode_filters().unwrap();
        assert_eq!(ep.len(), 2);
        assert!(ep.iter().all(|p| !p.is_empty() && p.len() % 8 == 0));
    }
}
