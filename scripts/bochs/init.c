/*
 * /init for the throw-away initramfs that scripts/bochs-run.sh boots in Bochs.
 *
 * It runs exactly one program (/prog, with the argv stored NUL-separated in
 * /args), lets it write straight to the serial console, then reports how it
 * ended with a single marker line and powers the emulated machine off.
 *
 * The host script only trusts the marker lines:
 *   BOCHS-RUN-START                 printed right before the program starts
 *   BOCHS-RUN-EXIT <code>           normal exit
 *   BOCHS-RUN-EXIT signal <N> ...   killed by a signal (e.g. 4 = SIGILL)
 *   BOCHS-RUN-EXIT init-error ...   /init itself could not run the program
 *
 * Build: gcc -static -O2 -o init init.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_ARGS 1024

/* Write a whole line to the console with write(2) so nothing sits in a stdio
 * buffer when we power off. */
static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(1, buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += w;
    }
}

/* write() to a tty only queues bytes; the emulated UART sends them at the
 * line rate. tcdrain() waits until they have really left, so nothing is lost
 * when we power off (fsync() does not do that on a tty). */
static void drain_console(void)
{
    while (tcdrain(1) < 0 && errno == EINTR)
        ;
}

static void power_off(void)
{
    drain_console();
    sync();
    reboot(RB_POWER_OFF);
    /* If ACPI power-off did not work, the host script still sees the EXIT
     * line and kills Bochs; PID 1 must never return, or the kernel panics. */
    for (;;)
        pause();
}

/* The kernel starts /init with no fds when the initramfs has no /dev/console
 * node (we build the cpio as an ordinary user-level file list, without device
 * nodes), so open the console ourselves. */
static void setup_console(void)
{
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
}

/* Read /args: argv strings separated (and terminated) by NUL bytes. */
static int load_args(char **argv)
{
    static char buf[256 * 1024];
    int argc = 0;
    int fd = open("/args", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t len = 0, r;
    while (len < (ssize_t)sizeof buf - 1 &&
           (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += r;
    close(fd);
    buf[len] = '\0';
    for (ssize_t i = 0; i < len && argc < MAX_ARGS;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    return argc;
}

int main(void)
{
    setup_console();
    /* /proc and /sys are cheap and some programs (sysconf, /proc/cpuinfo)
     * read them; nothing else is mounted. */
    mkdir("/proc", 0555);
    mount("proc", "/proc", "proc", 0, NULL);
    mkdir("/sys", 0555);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mkdir("/tmp", 01777);

    static char *argv[MAX_ARGS + 1];
    int argc = load_args(argv);
    if (argc == 0)
        argv[argc++] = "/prog";
    argv[argc] = NULL;

    char *envp[] = {"PATH=/", "HOME=/", "TMPDIR=/tmp", "TERM=dumb", NULL};

    say("BOCHS-RUN-START");
    pid_t pid = fork();
    if (pid < 0) {
        say("BOCHS-RUN-EXIT init-error fork: %s", strerror(errno));
        power_off();
    }
    if (pid == 0) {
        chdir("/");
        /* Restore default dispositions/mask: PID 1 is special to the kernel
         * but the child should behave like a normal process. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve("/prog", argv, envp);
        say("init: cannot exec /prog: %s", strerror(errno));
        _exit(127);
    }

    /* As PID 1 we also reap any orphans the program leaves behind; only the
     * status of our direct child matters. */
    int status = 0;
    for (;;) {
        pid_t w = wait(&status);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            say("BOCHS-RUN-EXIT init-error wait: %s", strerror(errno));
            power_off();
        }
    }

    /* Let the program's last output drain before our marker line. */
    drain_console();
    if (WIFEXITED(status))
        say("BOCHS-RUN-EXIT %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        say("BOCHS-RUN-EXIT signal %d (%s)%s", WTERMSIG(status),
            strsignal(WTERMSIG(status)), WCOREDUMP(status) ? " core" : "");
    else
        say("BOCHS-RUN-EXIT init-error status 0x%x", status);
    power_off();
    return 0;
}
