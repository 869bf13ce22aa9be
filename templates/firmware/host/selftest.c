/* Unit check of lwprov_receiver.c: hash/CRC vectors and a scripted session through lwprov_feed(). */
#include "lwprov_receiver.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static uint8_t out[65536];
static size_t out_len;
static uint8_t stored[LWPROV_MAX_PAYLOAD];
static size_t stored_len;
static int stores;

static int cap_write(void *ctx, const uint8_t *b, size_t n) { (void)ctx; memcpy(out + out_len, b, n); out_len += n; return 0; }
static int cap_store(void *ctx, const uint8_t *p, size_t n, int k, char *m, size_t ms)
{
    (void)ctx; (void)k; (void)m; (void)ms;
    memcpy(stored, p, n); stored_len = n; stores++;
    return LWPROV_OK;
}

/* prove() of a device whose stored PSK is 01 x 16 (docs/protocol.md appendix A). */
static int proves;
static int psk_prove(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t *kind, uint8_t *o, size_t cap, size_t *o_len)
{
    static const uint8_t psk[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    (void)ctx;
    if (cap < 32) return LWPROV_E_STORE_FAILED;
    lwprov_hmac_sha256(psk, sizeof psk, msg, msg_len, o);
    *kind = LWPROV_PROOF_HMAC_SHA256;
    *o_len = 32;
    proves++;
    return LWPROV_OK;
}

static size_t frame(uint8_t *f, uint8_t type, uint8_t seq, const uint8_t *p, size_t n)
{
    uint32_t c;
    f[0] = 0xAA; f[1] = 'L'; f[2] = 'W'; f[3] = 'P'; f[4] = 1; f[5] = type; f[6] = seq; f[7] = 0;
    f[8] = (uint8_t)(n >> 8); f[9] = (uint8_t)n;
    c = lwprov_crc16(f, 10); f[10] = (uint8_t)(c >> 8); f[11] = (uint8_t)c;
    if (n) memcpy(f + 12, p, n);
    c = lwprov_crc32(f + 4, 8 + n);
    f[12 + n] = (uint8_t)(c >> 24); f[13 + n] = (uint8_t)(c >> 16); f[14 + n] = (uint8_t)(c >> 8); f[15 + n] = (uint8_t)c;
    return 16 + n;
}

/* Finds the first frame in out (skipping noise); returns its type or -1 and sets *payload / *plen / *seq. */
static int first_frame(const uint8_t **payload, size_t *plen, uint8_t *seq)
{
    size_t i;
    for (i = 0; i + 16 <= out_len; i++) {
        size_t n;
        if (out[i] != 0xAA || out[i + 1] != 'L') continue;
        n = ((size_t)out[i + 8] << 8) | out[i + 9];
        *payload = out + i + 12; *plen = n; *seq = out[i + 6];
        return out[i + 5];
    }
    return -1;
}

static void hex(const uint8_t *d, size_t n, char *s) { size_t i; for (i = 0; i < n; i++) sprintf(s + 2 * i, "%02x", d[i]); }

int main(void)
{
    static lwprov_receiver r;
    lwprov_config cfg;
    lwprov_sha256_ctx c;
    uint8_t d[32], f[2048], p[64];
    char h[65];
    const uint8_t *pl;
    size_t plen, n, i;
    uint8_t seq;
    static uint8_t payload[3000];

    lwprov_sha256_init(&c); lwprov_sha256_update(&c, (const uint8_t *)"abc", 3); lwprov_sha256_final(&c, d); hex(d, 32, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    /* One million 'a' in odd-sized pieces exercises block boundaries (FIPS 180-2 test vector). */
    lwprov_sha256_init(&c);
    for (i = 0; i < 1000000; i += 37) lwprov_sha256_update(&c, (const uint8_t *)"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i + 37 <= 1000000 ? 37 : 1000000 - i);
    lwprov_sha256_final(&c, d); hex(d, 32, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    CHECK(lwprov_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u);
    CHECK(lwprov_crc16((const uint8_t *)"123456789", 9) == 0x29B1u);
    /* HMAC-SHA256: RFC 4231 test cases 1 and 6 (a key longer than the block is hashed first). */
    {
        uint8_t key[131];
        memset(key, 0x0b, 20);
        lwprov_hmac_sha256(key, 20, (const uint8_t *)"Hi There", 8, d); hex(d, 32, h);
        CHECK(!strcmp(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
        memset(key, 0xaa, sizeof key);
        lwprov_hmac_sha256(key, sizeof key, (const uint8_t *)"Test Using Larger Than Block-Size Key - Hash Key First", 54, d); hex(d, 32, h);
        CHECK(!strcmp(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    }

    memset(&cfg, 0, sizeof cfg);
    cfg.write = cap_write;
    cfg.store = cap_store;
    cfg.identity.serial = "SELFTEST-1";
    cfg.prove = psk_prove;
    lwprov_init(&r, &cfg);

    /* HELLO behind log noise, fed byte by byte. */
    out_len = 0;
    lwprov_feed(&r, (const uint8_t *)"boot log line\r\n", 15);
    p[0] = 1; p[1] = 1; p[2] = 1;
    n = frame(f, LWPROV_T_HELLO, 9, p, 3);
    for (i = 0; i < n; i++) lwprov_feed(&r, f + i, 1);
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_IDENTITY);
    CHECK(seq == 9);
    CHECK(plen > 10);
    {
        int found = 0;
        for (i = 0; i + 10 <= plen; i++) if (!memcmp(pl + i, "SELFTEST-1", 10)) found = 1;
        CHECK(found);
    }

    /* BEGIN → DATA ×3 → COMMIT → READBACK. */
    for (i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
    payload[0] = 0x84;
    lwprov_sha256_init(&c); lwprov_sha256_update(&c, payload, sizeof payload); lwprov_sha256_final(&c, d);
    p[0] = 0; p[1] = 0; p[2] = (uint8_t)(sizeof payload >> 8); p[3] = (uint8_t)sizeof payload;
    memcpy(p + 4, d, 32); p[36] = 1; p[37] = 0;
    out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_BEGIN, 10, p, 38));
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ACK && seq == 10);
    for (i = 0; i < sizeof payload; i += 1000) {
        uint8_t dp[1004];
        dp[0] = 0; dp[1] = 0; dp[2] = (uint8_t)(i >> 8); dp[3] = (uint8_t)i;
        memcpy(dp + 4, payload + i, 1000);
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_DATA, (uint8_t)(11 + i / 1000), dp, 1004));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ACK);
        if (i == 1000) {
            /* The host missed this ACK and repeats DATA: same answer, not staged twice. */
            size_t first = out_len;
            lwprov_feed(&r, f, frame(f, LWPROV_T_DATA, (uint8_t)(11 + i / 1000), dp, 1004));
            CHECK(out_len == 2 * first && !memcmp(out, out + first, first));
        }
    }
    /* A corrupted COMMIT is NAKed and not executed. */
    n = frame(f, LWPROV_T_COMMIT, 14, NULL, 0);
    f[n - 1] ^= 1;
    out_len = 0; lwprov_feed(&r, f, n);
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_NAK && seq == 14);
    CHECK(stores == 0);
    out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_COMMIT, 14, NULL, 0));
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ACK);
    CHECK(stores == 1 && stored_len == sizeof payload && !memcmp(stored, payload, sizeof payload));
    out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_READBACK, 15, NULL, 0));
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_DIGEST && plen == 36 && !memcmp(pl, d, 32));

    /* A wrong digest in BEGIN: COMMIT is refused and nothing is stored. */
    p[4] ^= 1;
    out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_BEGIN, 16, p, 38));
    for (i = 0; i < sizeof payload; i += 1000) {
        uint8_t dp[1004];
        dp[0] = 0; dp[1] = 0; dp[2] = (uint8_t)(i >> 8); dp[3] = (uint8_t)i;
        memcpy(dp + 4, payload + i, 1000);
        lwprov_feed(&r, f, frame(f, LWPROV_T_DATA, (uint8_t)(17 + i / 1000), dp, 1004));
    }
    out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_COMMIT, 20, NULL, 0));
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ERROR && pl[1] == LWPROV_E_DIGEST_MISMATCH);
    CHECK(stores == 1);

    /* An over-long length is skipped; the HELLO right after it is answered. */
    n = frame(f, LWPROV_T_DATA, 30, NULL, 0);
    f[8] = 0xFF; f[9] = 0xFF;
    {
        uint32_t crc = lwprov_crc16(f, 10);
        f[10] = (uint8_t)(crc >> 8); f[11] = (uint8_t)crc;
    }
    n += frame(f + n, LWPROV_T_HELLO, 31, NULL, 0);
    out_len = 0; lwprov_feed(&r, f, n);
    CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_IDENTITY && seq == 31);

    /* Protocol v2: HELLO offering v2 → IDENTITY v2; store the 1-byte payload 80; CHALLENGE → PROOF, the appendix A
     * vector (the same bytes the TypeScript host computes). */
    {
        static const uint8_t hello2[7] = {0x01, 0x01, 0x02, 0x02, 0x02, 0x10, 0x00};
        static const uint8_t empty = 0x80;
        uint8_t ch[36], dp[5];
        size_t first;
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_HELLO, 40, hello2, sizeof hello2));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_IDENTITY && pl[0] == 1 && pl[1] == 1 && pl[2] == 2);
        lwprov_sha256_init(&c); lwprov_sha256_update(&c, &empty, 1); lwprov_sha256_final(&c, d);
        memset(p, 0, 4); p[3] = 1; memcpy(p + 4, d, 32); p[36] = 1; p[37] = 0;
        lwprov_feed(&r, f, frame(f, LWPROV_T_BEGIN, 41, p, 38));
        memset(dp, 0, 4); dp[4] = empty;
        lwprov_feed(&r, f, frame(f, LWPROV_T_DATA, 42, dp, 5));
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_COMMIT, 43, NULL, 0));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ACK && stored_len == 1);
        for (i = 0; i < 32; i++) ch[i] = (uint8_t)i;
        memcpy(ch + 32, "ep-1", 4);
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_CHALLENGE, 44, ch, 36));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_PROOF && seq == 44 && plen == 33 && pl[0] == LWPROV_PROOF_HMAC_SHA256);
        hex(pl + 1, 32, h);
        CHECK(!strcmp(h, "40de1d1cc75d121d8e4c747c8db36250910339c30308d4ab0189d4d190b895b0"));
        CHECK(proves == 1);
        /* A repeated CHALLENGE (lost PROOF) is answered from the cache, not proven again. */
        first = out_len;
        lwprov_feed(&r, f, frame(f, LWPROV_T_CHALLENGE, 44, ch, 36));
        CHECK(out_len == 2 * first && !memcmp(out, out + first, first) && proves == 1);
        /* A malformed CHALLENGE (no endpoint) is refused. */
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_CHALLENGE, 45, ch, 32));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ERROR && pl[1] == LWPROV_E_BAD_MESSAGE);
        /* A version 1 host (HELLO without a version, or offering 1) gets a v1 session: no CHALLENGE. */
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_HELLO, 46, NULL, 0));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_IDENTITY && pl[2] == 1);
        out_len = 0; lwprov_feed(&r, f, frame(f, LWPROV_T_CHALLENGE, 47, ch, 36));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_ERROR && pl[1] == LWPROV_E_UNSUPPORTED && proves == 1);
    }
    /* A receiver without prove() is a version 1 receiver, whatever the host offers. */
    {
        static lwprov_receiver r1;
        static const uint8_t hello2[3] = {0x01, 0x01, 0x02};
        lwprov_config c1 = cfg;
        c1.prove = NULL;
        lwprov_init(&r1, &c1);
        out_len = 0; lwprov_feed(&r1, f, frame(f, LWPROV_T_HELLO, 50, hello2, sizeof hello2));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_IDENTITY && pl[2] == 1);
    }

    /* Robustness: random bytes and randomly damaged frames must never crash or overrun (run under ASan in CI). */
    {
        uint32_t x = 12345u;
        size_t k;
        out_len = 0;
        for (k = 0; k < 20000; k++) {
            uint8_t junk[64];
            size_t m, j;
            x = x * 1664525u + 1013904223u;
            m = (x >> 24) % sizeof junk;
            for (j = 0; j < m; j++) { x = x * 1664525u + 1013904223u; junk[j] = (uint8_t)(x >> 24); }
            if ((x & 7u) == 0) {
                n = frame(f, (uint8_t)(1 + (x >> 8) % 9), (uint8_t)(x >> 16), junk, m);
                f[(x >> 4) % n] ^= (uint8_t)(1u << ((x >> 12) & 7u));
                lwprov_feed(&r, f, n);
            } else {
                lwprov_feed(&r, junk, m);
            }
            if (out_len > sizeof out / 2) out_len = 0;
        }
        out_len = 0;
        lwprov_feed(&r, f, frame(f, LWPROV_T_HELLO, 77, NULL, 0));
        CHECK(first_frame(&pl, &plen, &seq) == LWPROV_T_IDENTITY && seq == 77);
    }

    if (failures) { printf("lwprov selftest: %d failure(s)\n", failures); return 1; }
    printf("lwprov selftest: ok\n");
    return 0;
}
