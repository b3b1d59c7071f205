/* escape_probe: tries one host-escape primitive and prints "<name>=<OK|ERRNO|EMPTY>" (test helper). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int report(const char *name, long rc) {
    if (rc < 0)
        printf("%s=%s\n", name, strerrorname_np(errno));
    else
        printf("%s=OK\n", name);
    return 0;
}

static int open_write(const char *name, const char *path) {
    int fd = open(path, O_WRONLY);
    report(name, fd);
    if (fd >= 0) close(fd);
    return 0;
}

static int read_some(const char *name, const char *path) {
    char buf[16];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return report(name, -1);
    long n = read(fd, buf, sizeof buf);
    close(fd);
    if (n == 0) { printf("%s=EMPTY\n", name); return 0; }
    return report(name, n);
}

static int list_dir(const char *name, const char *path) {
    DIR *d = opendir(path);
    if (!d) return report(name, -1);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    if (n == 0) printf("%s=EMPTY\n", name); else printf("%s=OK\n", name);
    return 0;
}

static int by_handle(void) {
    struct { struct file_handle h; unsigned char b[128]; } fh;
    int mount_id;
    fh.h.handle_bytes = 128;
    if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/dev/null", &fh.h, &mount_id, 0) < 0)
        return report("open_by_handle", -1);
    int dir = open("/dev", O_RDONLY | O_DIRECTORY);
    long fd = syscall(SYS_open_by_handle_at, dir, &fh.h, O_RDONLY);
    report("open_by_handle", fd);
    if (fd >= 0) close((int)fd);
    return 0;
}

int main(int argc, char **argv) {
    const char *op = argc > 1 ? argv[1] : "";
    if (!strcmp(op, "mount")) {
        mkdir("/mnt", 0755);
        long rc = mount("none", "/mnt", "tmpfs", 0, NULL);
        report(op, rc);
        if (rc == 0) umount("/mnt");
    } else if (!strcmp(op, "sysrq")) open_write(op, "/proc/sysrq-trigger");
    else if (!strcmp(op, "procsys")) open_write(op, "/proc/sys/kernel/panic");
    else if (!strcmp(op, "sysfs") && argc > 2) open_write(op, argv[2]);
    else if (!strcmp(op, "kcore")) read_some(op, "/proc/kcore");
    else if (!strcmp(op, "firmware")) list_dir(op, "/sys/firmware");
    else if (!strcmp(op, "blockdev") && argc > 3) {
        unlink("/tmp/hostdisk");
        report("mknod_blk", mknod("/tmp/hostdisk", S_IFBLK | 0600, makedev(atoi(argv[2]), atoi(argv[3]))));
        read_some("open_blk", "/tmp/hostdisk");
    } else if (!strcmp(op, "init_module")) {
        static char junk[64] = "not a module";
        report(op, syscall(SYS_init_module, junk, sizeof junk, ""));
    } else if (!strcmp(op, "unshare_user")) report(op, unshare(CLONE_NEWUSER));
    else if (!strcmp(op, "unshare_mnt")) report(op, unshare(CLONE_NEWNS));
    else if (!strcmp(op, "keyctl")) report(op, syscall(SYS_keyctl, 1 /* JOIN_SESSION_KEYRING */, NULL));
    else if (!strcmp(op, "bpf")) {
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_type = BPF_MAP_TYPE_ARRAY; a.key_size = 4; a.value_size = 4; a.max_entries = 1;
        long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
        report(op, fd);
        if (fd >= 0) close((int)fd);
    } else if (!strcmp(op, "perf")) {
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        a.type = PERF_TYPE_SOFTWARE; a.size = sizeof a; a.config = PERF_COUNT_SW_CPU_CLOCK;
        a.exclude_kernel = 1; a.exclude_hv = 1;
        long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
        report(op, fd);
        if (fd >= 0) close((int)fd);
    } else if (!strcmp(op, "ptrace") && argc > 2) {
        long rc = ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0);
        report(op, rc);
        if (rc == 0) ptrace(PTRACE_DETACH, atoi(argv[2]), 0, 0);
    } else if (!strcmp(op, "kexec")) report(op, syscall(SYS_kexec_load, 0, 1000, NULL, 0)); /* too many segments */
    else if (!strcmp(op, "reboot")) report(op, syscall(SYS_reboot, 1, 2, 0, NULL));          /* wrong magic */
    else if (!strcmp(op, "swapon")) report(op, swapon("/nonexistent-swapfile", 0));
    else if (!strcmp(op, "sethostname")) report(op, sethostname("escaped", 7));
    else if (!strcmp(op, "iopl")) report(op, iopl(3));
    else if (!strcmp(op, "open_by_handle")) by_handle();
    else if (!strcmp(op, "status")) {
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        if (!f) return report(op, -1);
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Cap", 3)) fputs(line, stdout);
        fclose(f);
    }
    else { fprintf(stderr, "unknown probe %s\n", op); return 2; }
    return 0;
}
