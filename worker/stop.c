/*
 * Stop-signal handling of the worker; see stop.h for the race analysis.
 */
#include "stop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t stop_sig;
static volatile sig_atomic_t armed_fd = -1;
static volatile sig_atomic_t armed_conn = -1;
static int pipe_r = -1;
static int pipe_w = -1;

static void stop_handler(int sig)
{
    int saved = errno;

    if (stop_sig == 0)
        stop_sig = sig;
    /* The pipe is non-blocking: when it is full it is readable anyway. */
    (void)!write(pipe_w, "", 1);
    if (armed_fd >= 0) {
        /* accept() on a pipe fails with ENOTSOCK: the loop cannot block. */
        (void)dup2(pipe_r, armed_fd);
        armed_fd = -1;
    }
    if (armed_conn >= 0) {
        /* A recv() about to block returns EAGAIN at once instead. */
        int fl = fcntl(armed_conn, F_GETFL);
        if (fl >= 0)
            (void)fcntl(armed_conn, F_SETFL, fl | O_NONBLOCK);
        armed_conn = -1;
    }
    errno = saved;
}

/*
 * Restores the default action of every signal the worker does not handle.
 * uv_spawn resets only the classic signals 1-31; a real-time signal ignored
 * by whoever started the supervisor would otherwise reach the worker.
 * glibc refuses its two internal signals (32 and 33) in sigaction(), so
 * those go through the system call; an all-zero kernel sigaction is SIG_DFL
 * with no flags and an empty mask whatever the architecture's layout.
 */
static void reset_dispositions(void)
{
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (sigaction(sig, &dfl, NULL) < 0 && errno == EINVAL) {
            uint64_t kact[8] = {0};
            (void)syscall(SYS_rt_sigaction, sig, kact, NULL, sizeof(uint64_t));
        }
    }
}

int stop_init(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    sigset_t none;
    int p[2];

    reset_dispositions();
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    pipe_r = p[0];
    pipe_w = p[1];

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stop_handler;
    sigfillset(&sa.sa_mask); /* handlers never nest */
    sa.sa_flags = 0;         /* no SA_RESTART: blocking calls return EINTR */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -errno;
    }
    /* A client that vanishes must cost an EPIPE, not the process. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -errno;

    /* Never rely on the signal mask inherited from the parent. */
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return -errno;
    return 0;
}

void stop_arm_listener(int listen_fd)
{
    armed_fd = listen_fd;
    /* A signal that came before arming found nothing to disarm. */
    if (stop_sig != 0 && armed_fd >= 0) {
        armed_fd = -1;
        (void)dup2(pipe_r, listen_fd);
    }
}

volatile sig_atomic_t *stop_conn_slot(void)
{
    return &armed_conn;
}

int stop_requested(void)
{
    return stop_sig;
}

const volatile sig_atomic_t *stop_flag(void)
{
    return &stop_sig;
}

int stop_fd(void)
{
    return pipe_r;
}
