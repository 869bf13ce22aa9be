/*
 * lwprov-device: the reference receiver (lwprov_receiver.c) running on Linux as a pretend device behind a
 * pseudo-terminal, for integration tests, demos and firmware-team bring-up.
 *
 *   lwprov-device --link PATH [--serial S] [--imei I] [--mac M] [--store FILE] [--refuse] [--no-keygen] [--no-prove]
 *
 * Opens a PTY, symlinks its slave at PATH (replacing an existing link), prints log lines to stdout and on the PTY
 * (as firmware does on its console UART), and serves lwprov sessions until SIGINT/SIGTERM. The committed payload
 * goes to FILE (atomically: FILE.tmp + rename); a key generated on request goes to FILE.key (mode 0600, via the
 * openssl command). Each HELLO starts a new session, so a host may close and re-open the port at will.
 *
 * Protocol v2 proof of possession (docs/protocol.md 11) is the prove() callback below, with OpenSSL (-lcrypto): it
 * reloads the stored configuration (FILE, or the in-memory copy without --store), finds the secured /0 instance's
 * mode (/0/x/2) and secret (/0/x/5), and answers with HMAC-SHA256(PSK, msg) or a signature by the private key (the
 * DER key in /0/x/5, or FILE.key for a key generated on the device). --no-prove builds an old, v1-only device.
 */
#include "lwprov_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

typedef struct {
    int master;
    const char *store_path;
    int refuse;
    char key_staged[4096];
    char key_final[4096];
    /* Without --store the payload is kept in memory only (read-back then hashes the receiver's RAM copy). */
    struct timeval started;
    uint8_t mem_store[LWPROV_MAX_PAYLOAD];
    size_t mem_len;
} device;

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { struct pollfd p; p.fd = fd; p.events = POLLOUT; poll(&p, 1, 100); continue; }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int dev_write(void *ctx, const uint8_t *buf, size_t len)
{
    return write_all(((device *)ctx)->master, buf, len);
}

static void dev_log(void *ctx, const char *line)
{
    device *d = ctx;
    struct timeval now;
    long ms;
    char text[512];
    int n;
    gettimeofday(&now, NULL);
    ms = (long)(now.tv_sec - d->started.tv_sec) * 1000 + (long)(now.tv_usec - d->started.tv_usec) / 1000;
    n = snprintf(text, sizeof text, "[%05ld.%03ld] <inf> %s\r\n", ms / 1000, ms % 1000, line);
    if (n < 0) return;
    if ((size_t)n >= sizeof text) n = (int)sizeof text - 1;
    fwrite(text, 1, (size_t)n - 2, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    /* Real firmware shares its console with the protocol: the host must skip this text. */
    write_all(d->master, (const uint8_t *)text, (size_t)n);
}

static int dev_store(void *ctx, const uint8_t *payload, size_t len, int use_generated_key, char *msg, size_t msg_size)
{
    device *d = ctx;
    char tmp[4200];
    int fd;
    if (d->refuse) {
        snprintf(msg, msg_size, "lwprov-device: configuration refused (--refuse); nothing stored");
        return LWPROV_E_REFUSED;
    }
    if (!d->store_path) {
        /* RAM "storage": what prove() reloads when there is no --store file. */
        if (len > sizeof d->mem_store) { snprintf(msg, msg_size, "lwprov-device: payload too large"); return LWPROV_E_STORE_FAILED; }
        if (use_generated_key && rename(d->key_staged, d->key_final) != 0) {
            snprintf(msg, msg_size, "lwprov-device: cannot install the generated key: %s", strerror(errno));
            return LWPROV_E_STORE_FAILED;
        }
        memcpy(d->mem_store, payload, len);
        d->mem_len = len;
        return LWPROV_OK;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", d->store_path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write_all(fd, payload, len) != 0 || fsync(fd) != 0) {
        if (fd >= 0) close(fd);
        unlink(tmp);
        snprintf(msg, msg_size, "lwprov-device: cannot write %s: %s", tmp, strerror(errno));
        return LWPROV_E_STORE_FAILED;
    }
    close(fd);
    /* The key first: a payload naming a generated key must never be live without it. */
    if (use_generated_key && rename(d->key_staged, d->key_final) != 0) {
        unlink(tmp);
        snprintf(msg, msg_size, "lwprov-device: cannot install the generated key: %s", strerror(errno));
        return LWPROV_E_STORE_FAILED;
    }
    if (rename(tmp, d->store_path) != 0) {
        unlink(tmp);
        snprintf(msg, msg_size, "lwprov-device: cannot replace %s: %s", d->store_path, strerror(errno));
        return LWPROV_E_STORE_FAILED;
    }
    return LWPROV_OK;
}

static long dev_load(void *ctx, size_t offset, uint8_t *buf, size_t cap)
{
    device *d = ctx;
    FILE *f = fopen(d->store_path, "rb");
    size_t n;
    if (!f) return -1;
    if (fseek(f, (long)offset, SEEK_SET) != 0) { fclose(f); return -1; }
    n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

/* Runs argv, waits for it; returns its exit status or -1. stdout/stderr go to /dev/null. */
static int run(char *const argv[])
{
    int status;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) { dup2(null, 1); dup2(null, 2); }
        umask(077);
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int dev_keygen(void *ctx, const char *cn, uint8_t *csr, size_t cap, size_t *csr_len)
{
    device *d = ctx;
    char subj[160], csr_path[4200];
    size_t i, j = 0;
    FILE *f;
    char *argv[17];
    int k = 0;
    /* openssl -subj syntax: escape the separators so any endpoint name is one CN value. */
    subj[j++] = '/'; subj[j++] = 'C'; subj[j++] = 'N'; subj[j++] = '=';
    for (i = 0; cn[i] && j < sizeof subj - 3; i++) {
        if (strchr("/\\+=,", cn[i])) subj[j++] = '\\';
        subj[j++] = cn[i];
    }
    subj[j] = 0;
    snprintf(csr_path, sizeof csr_path, "%s.csr", d->key_staged);
    argv[k++] = "openssl"; argv[k++] = "req"; argv[k++] = "-new";
    argv[k++] = "-newkey"; argv[k++] = "ec"; argv[k++] = "-pkeyopt"; argv[k++] = "ec_paramgen_curve:P-256";
    argv[k++] = "-nodes"; argv[k++] = "-keyout"; argv[k++] = d->key_staged;
    argv[k++] = "-subj"; argv[k++] = subj; argv[k++] = "-outform"; argv[k++] = "DER";
    argv[k++] = "-out"; argv[k++] = csr_path;
    argv[k] = NULL;
    if (run(argv) != 0) return LWPROV_E_KEYGEN_FAILED;
    f = fopen(csr_path, "rb");
    if (!f) return LWPROV_E_KEYGEN_FAILED;
    *csr_len = fread(csr, 1, cap, f);
    fclose(f);
    unlink(csr_path);
    return *csr_len > 0 ? LWPROV_OK : LWPROV_E_KEYGEN_FAILED;
}

/* ---- proof of possession (protocol v2) ------------------------------------------------------------------------ */

/* A minimal CBOR reader, enough for LwM2M SenML-CBOR: definite lengths, depth-limited. */
typedef struct {
    const uint8_t *p;
    size_t n, i;
} cbor;

static int cbor_head(cbor *c, int *major, uint64_t *val)
{
    uint8_t b, ai;
    int k, len;
    if (c->i >= c->n) return -1;
    b = c->p[c->i++];
    *major = b >> 5;
    ai = b & 31u;
    if (ai < 24) { *val = ai; return 0; }
    if (ai > 27) return -1; /* indefinite lengths: not in LwM2M SenML-CBOR */
    len = 1 << (ai - 24);
    if ((size_t)len > c->n - c->i) return -1;
    *val = 0;
    for (k = 0; k < len; k++) *val = (*val << 8) | c->p[c->i++];
    return 0;
}

static int cbor_skip(cbor *c, int depth)
{
    int major;
    uint64_t v, k;
    if (depth > 8 || cbor_head(c, &major, &v) != 0) return -1;
    switch (major) {
    case 0: case 1: case 7: return 0;
    case 2: case 3: if (v > c->n - c->i) return -1; c->i += (size_t)v; return 0;
    case 4: for (k = 0; k < v; k++) if (cbor_skip(c, depth + 1) != 0) return -1; return 0;
    case 5: for (k = 0; k < 2 * v; k++) if (cbor_skip(c, depth + 1) != 0) return -1; return 0;
    case 6: return cbor_skip(c, depth + 1);
    default: return -1;
    }
}

#define MAX_IID 8

typedef struct {
    int mode[MAX_IID];              /* /0/x/2, -1 = absent */
    const uint8_t *secret[MAX_IID]; /* /0/x/5 */
    size_t secret_len[MAX_IID];
} security_view;

/* Walks the SenML records for /0/x/2 (integer) and /0/x/5 (bytes). Returns 0 or -1 on malformed input. */
static int senml_security(const uint8_t *buf, size_t len, security_view *out)
{
    cbor c;
    int major, i;
    uint64_t count, r;
    char base[64] = "";
    for (i = 0; i < MAX_IID; i++) { out->mode[i] = -1; out->secret[i] = NULL; out->secret_len[i] = 0; }
    c.p = buf; c.n = len; c.i = 0;
    if (cbor_head(&c, &major, &count) != 0 || major != 4) return -1;
    for (r = 0; r < count; r++) {
        uint64_t pairs, k;
        char name[64] = "";
        int have_int = 0, have_bytes = 0;
        long ival = 0;
        const uint8_t *bytes = NULL;
        size_t blen = 0;
        unsigned oid, iid, rid;
        char full[128];
        if (cbor_head(&c, &major, &pairs) != 0 || major != 5) return -1;
        for (k = 0; k < pairs; k++) {
            int km, vm;
            uint64_t key, v;
            size_t at;
            if (cbor_head(&c, &km, &key) != 0 || (km != 0 && km != 1)) return -1;
            at = c.i;
            if (cbor_head(&c, &vm, &v) != 0) return -1;
            if (km == 0 && key == 0 && vm == 3) { /* n */
                if (v > c.n - c.i || v >= sizeof name) return -1;
                memcpy(name, c.p + c.i, (size_t)v); name[v] = 0; c.i += (size_t)v;
            } else if (km == 1 && key == 1 && vm == 3) { /* bn (-2) */
                if (v > c.n - c.i || v >= sizeof base) return -1;
                memcpy(base, c.p + c.i, (size_t)v); base[v] = 0; c.i += (size_t)v;
            } else if (km == 0 && key == 2 && (vm == 0 || vm == 1)) { /* v */
                have_int = 1;
                ival = vm == 0 ? (long)v : -1 - (long)v;
            } else if (km == 0 && key == 8 && vm == 2) { /* vd */
                if (v > c.n - c.i) return -1;
                have_bytes = 1; bytes = c.p + c.i; blen = (size_t)v; c.i += (size_t)v;
            } else {
                c.i = at;
                if (cbor_skip(&c, 1) != 0) return -1;
            }
        }
        snprintf(full, sizeof full, "%s%s", base, name);
        if (sscanf(full, "/%u/%u/%u", &oid, &iid, &rid) != 3 || oid != 0 || iid >= MAX_IID) continue;
        if (rid == 2 && have_int) out->mode[iid] = (int)ival;
        if (rid == 5 && have_bytes) { out->secret[iid] = bytes; out->secret_len[iid] = blen; }
    }
    return 0;
}

static uint8_t proof_store[LWPROV_MAX_PAYLOAD];

static int dev_prove(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t *kind, uint8_t *out, size_t cap, size_t *out_len)
{
    device *d = ctx;
    security_view sv;
    const uint8_t *stored;
    size_t stored_len = 0;
    int i, rc = LWPROV_E_NO_CREDENTIAL;
    /* Reload from storage, as the receiver's read-back does: never the bytes just received. */
    if (d->store_path) {
        FILE *f = fopen(d->store_path, "rb");
        if (!f) return LWPROV_E_NO_CREDENTIAL;
        stored_len = fread(proof_store, 1, sizeof proof_store, f);
        fclose(f);
        stored = proof_store;
    } else {
        stored = d->mem_store;
        stored_len = d->mem_len;
    }
    if (stored_len == 0 || senml_security(stored, stored_len, &sv) != 0) return LWPROV_E_NO_CREDENTIAL;
    for (i = 0; i < MAX_IID; i++) {
        if (sv.mode[i] == 0 && sv.secret_len[i] > 0) { /* PSK */
            unsigned int mlen = 0;
            if (cap < 32 || !HMAC(EVP_sha256(), sv.secret[i], (int)sv.secret_len[i], msg, msg_len, out, &mlen) || mlen != 32)
                return LWPROV_E_STORE_FAILED;
            *kind = LWPROV_PROOF_HMAC_SHA256;
            *out_len = mlen;
            return LWPROV_OK;
        }
        if (sv.mode[i] == 2) { /* certificate: the key in /0/x/5, or the one generated on the device */
            EVP_PKEY *key = NULL;
            EVP_MD_CTX *md;
            size_t siglen = cap;
            if (sv.secret_len[i] > 0) {
                const unsigned char *p = sv.secret[i];
                key = d2i_AutoPrivateKey(NULL, &p, (long)sv.secret_len[i]);
            } else {
                FILE *f = fopen(d->key_final, "r");
                if (f) { key = PEM_read_PrivateKey(f, NULL, NULL, NULL); fclose(f); }
            }
            if (!key) return LWPROV_E_NO_CREDENTIAL;
            md = EVP_MD_CTX_new();
            rc = (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
                  EVP_DigestSign(md, out, &siglen, msg, msg_len) == 1) ? LWPROV_OK : LWPROV_E_STORE_FAILED;
            EVP_MD_CTX_free(md);
            EVP_PKEY_free(key);
            if (rc != LWPROV_OK) return rc;
            *kind = LWPROV_PROOF_SIGNATURE;
            *out_len = siglen;
            return LWPROV_OK;
        }
    }
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: lwprov-device --link PATH [--serial S] [--imei I] [--mac M] [--store FILE] [--refuse] [--no-keygen] [--no-prove]\n");
}

int main(int argc, char **argv)
{
    static lwprov_receiver rx; /* static: the receiver is sized like firmware RAM, not for the stack */
    static device dev;
    lwprov_config cfg;
    const char *link = NULL, *serial = NULL, *imei = NULL, *mac = NULL;
    char serial_buf[128], host[64];
    int keygen = 1, prove = 1, slave, i;
    char *slave_name;
    struct termios tio;
    struct sigaction sa;
    char banner[256];

    dev.master = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--link") && v) { link = v; i++; }
        else if (!strcmp(a, "--serial") && v) { serial = v; i++; }
        else if (!strcmp(a, "--imei") && v) { imei = v; i++; }
        else if (!strcmp(a, "--mac") && v) { mac = v; i++; }
        else if (!strcmp(a, "--store") && v) { dev.store_path = v; i++; }
        else if (!strcmp(a, "--refuse")) dev.refuse = 1;
        else if (!strcmp(a, "--no-keygen")) keygen = 0;
        else if (!strcmp(a, "--no-prove")) prove = 0;
        else { usage(); return 2; }
    }
    if (!link) { usage(); return 2; }
    if (!serial) {
        if (gethostname(host, sizeof host) != 0) strcpy(host, "host");
        host[sizeof host - 1] = 0;
        snprintf(serial_buf, sizeof serial_buf, "DEV-%s-%ld", host, (long)getpid());
        serial = serial_buf;
    }
    if (dev.store_path) {
        snprintf(dev.key_staged, sizeof dev.key_staged, "%s.key.staged", dev.store_path);
        snprintf(dev.key_final, sizeof dev.key_final, "%s.key", dev.store_path);
    } else {
        snprintf(dev.key_staged, sizeof dev.key_staged, "/tmp/lwprov-device-%ld.key.staged", (long)getpid());
        snprintf(dev.key_final, sizeof dev.key_final, "/tmp/lwprov-device-%ld.key", (long)getpid());
    }
    gettimeofday(&dev.started, NULL);

    dev.master = posix_openpt(O_RDWR | O_NOCTTY);
    if (dev.master < 0 || grantpt(dev.master) != 0 || unlockpt(dev.master) != 0 || !(slave_name = ptsname(dev.master))) {
        perror("lwprov-device: cannot open a pseudo-terminal");
        return 1;
    }
    /* Holding the slave open ourselves keeps reads on the master from failing with EIO while no host has it open. */
    slave = open(slave_name, O_RDWR | O_NOCTTY);
    if (slave < 0 || tcgetattr(slave, &tio) != 0) { perror("lwprov-device: cannot open the PTY slave"); return 1; }
    cfmakeraw(&tio);
    cfsetispeed(&tio, B115200);
    cfsetospeed(&tio, B115200);
    tcsetattr(slave, TCSANOW, &tio);
    if (unlink(link) != 0 && errno != ENOENT) { perror("lwprov-device: cannot replace --link"); return 1; }
    if (symlink(slave_name, link) != 0) { perror("lwprov-device: cannot create --link"); return 1; }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&cfg, 0, sizeof cfg);
    cfg.ctx = &dev;
    cfg.write = dev_write;
    cfg.store = dev_store;
    cfg.load = dev.store_path ? dev_load : NULL;
    cfg.keygen = keygen ? dev_keygen : NULL;
    cfg.prove = prove ? dev_prove : NULL; /* without it: an old, protocol v1 receiver */
    cfg.log = dev_log;
    cfg.identity.serial = serial;
    cfg.identity.imei = imei;
    cfg.identity.mac = mac;
    cfg.identity.model = "lwprov-device (host build)";
    cfg.identity.firmware = "1.0.0";
    lwprov_init(&rx, &cfg);

    snprintf(banner, sizeof banner, "*** Booting lwprov-device 1.0.0, serial %s ***", serial);
    dev_log(&dev, banner);
    snprintf(banner, sizeof banner, "lwprov: receiver ready on %s (%s)", link, slave_name);
    dev_log(&dev, banner);
    lwprov_announce_boot(&rx);

    while (!stop_requested) {
        struct pollfd p;
        uint8_t buf[1024];
        ssize_t n;
        p.fd = dev.master;
        p.events = POLLIN;
        if (poll(&p, 1, 250) <= 0) continue;
        n = read(dev.master, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == EIO) { struct timespec ts = {0, 50000000L}; nanosleep(&ts, NULL); continue; }
            perror("lwprov-device: read");
            break;
        }
        if (n > 0) lwprov_feed(&rx, buf, (size_t)n);
    }
    unlink(link);
    unlink(dev.key_staged);
    printf("lwprov-device: stopped\n");
    return 0;
}
