/*
 * lwprov device-side receiver, protocol version 2 (v1 hosts and the v1 session without prove() still work). See lwprov_receiver.h and docs/protocol.md.
 * Portable C99: no malloc, no stdio, no OS calls.
 */
#include "lwprov_receiver.h"

#include <string.h>

#if LWPROV_MAX_FRAME < 256 || LWPROV_MAX_FRAME > 4096
#error "LWPROV_MAX_FRAME must be 256..4096 (docs/protocol.md 4.1)"
#endif
#if LWPROV_MAX_CSR > 65535
#error "LWPROV_MAX_CSR must fit the u16 CSR length"
#endif

#define HDR 12u
#define SYNC0 0xAAu

static const uint8_t SYNC[4] = {0xAA, 0x4C, 0x57, 0x50};

/* ---- CRC ---------------------------------------------------------------------------------------------------- */

uint32_t lwprov_crc32(const uint8_t *data, size_t len)
{
    /* Bitwise CRC-32/ISO-HDLC: no 1 KiB table in the factory image; frames are small. */
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < len; i++) {
        c ^= data[i];
        for (k = 0; k < 8; k++)
            c = (c & 1u) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    }
    return c ^ 0xFFFFFFFFu;
}

uint16_t lwprov_crc16(const uint8_t *data, size_t len)
{
    /* CRC-16/CCITT-FALSE. */
    uint16_t c = 0xFFFFu;
    size_t i;
    int k;
    for (i = 0; i < len; i++) {
        c ^= (uint16_t)(data[i] << 8);
        for (k = 0; k < 8; k++)
            c = (c & 0x8000u) ? (uint16_t)((c << 1) ^ 0x1021u) : (uint16_t)(c << 1);
    }
    return c;
}

/* ---- SHA-256 (FIPS 180-4) ----------------------------------------------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(lwprov_sha256_ctx *c, const uint8_t *p)
{
    uint32_t w[64], a, b, cc, d, e, f, g, h, t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3]; e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
    for (i = 0; i < 64; i++) {
        t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

void lwprov_sha256_init(lwprov_sha256_ctx *c)
{
    static const uint32_t H0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(c->h, H0, sizeof H0);
    c->bytes = 0;
    c->n = 0;
}

void lwprov_sha256_update(lwprov_sha256_ctx *c, const uint8_t *data, size_t len)
{
    c->bytes += len;
    while (len > 0) {
        size_t take = 64 - c->n;
        if (take > len) take = len;
        memcpy(c->buf + c->n, data, take);
        c->n += take;
        data += take;
        len -= take;
        if (c->n == 64) {
            sha256_block(c, c->buf);
            c->n = 0;
        }
    }
}

void lwprov_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t out[32])
{
    uint8_t k[64], pad[64], inner[32];
    lwprov_sha256_ctx c;
    size_t i;
    memset(k, 0, sizeof k);
    if (key_len > 64) {
        lwprov_sha256_init(&c);
        lwprov_sha256_update(&c, key, key_len);
        lwprov_sha256_final(&c, k);
    } else if (key_len > 0) {
        memcpy(k, key, key_len);
    }
    for (i = 0; i < 64; i++) pad[i] = (uint8_t)(k[i] ^ 0x36u);
    lwprov_sha256_init(&c);
    lwprov_sha256_update(&c, pad, 64);
    lwprov_sha256_update(&c, msg, msg_len);
    lwprov_sha256_final(&c, inner);
    for (i = 0; i < 64; i++) pad[i] = (uint8_t)(k[i] ^ 0x5cu);
    lwprov_sha256_init(&c);
    lwprov_sha256_update(&c, pad, 64);
    lwprov_sha256_update(&c, inner, 32);
    lwprov_sha256_final(&c, out);
    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
}

void lwprov_sha256_final(lwprov_sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->bytes * 8u;
    uint8_t pad = 0x80;
    uint8_t lenbuf[8];
    int i;
    lwprov_sha256_update(c, &pad, 1);
    pad = 0;
    while (c->n != 56) lwprov_sha256_update(c, &pad, 1);
    for (i = 0; i < 8; i++) lenbuf[i] = (uint8_t)(bits >> (56 - 8 * i));
    lwprov_sha256_update(c, lenbuf, 8);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

/* ---- frame output ------------------------------------------------------------------------------------------- */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static uint32_t get16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Builds a frame around the payload already placed at buf + HDR; returns the frame length. */
static size_t frame_finish(uint8_t *buf, uint8_t type, uint8_t seq, size_t plen)
{
    memcpy(buf, SYNC, 4);
    buf[4] = LWPROV_FRAME_VERSION;
    buf[5] = type;
    buf[6] = seq;
    buf[7] = 0;
    put16(buf + 8, (uint32_t)plen);
    put16(buf + 10, lwprov_crc16(buf, 10));
    put32(buf + HDR + plen, lwprov_crc32(buf + 4, HDR - 4 + plen));
    return HDR + plen + 4;
}

static void log_line(lwprov_receiver *r, const char *s)
{
    if (r->cfg.log) r->cfg.log(r->cfg.ctx, s);
}

/* Sends the answer now in r->tx (payload at tx + HDR) and remembers it for repeated requests. */
static void answer(lwprov_receiver *r, uint8_t req_type, uint8_t seq, uint8_t type, size_t plen)
{
    r->tx_len = frame_finish(r->tx, type, seq, plen);
    r->have_last = (req_type != LWPROV_T_HELLO);
    r->last_seq = seq;
    r->last_type = req_type;
    r->cfg.write(r->cfg.ctx, r->tx, r->tx_len);
}

static void answer_ack(lwprov_receiver *r, uint8_t req_type, uint8_t seq, const uint8_t *data, size_t n)
{
    r->tx[HDR] = req_type;
    if (n) memcpy(r->tx + HDR + 1, data, n);
    answer(r, req_type, seq, LWPROV_T_ACK, 1 + n);
}

static void answer_error(lwprov_receiver *r, uint8_t req_type, uint8_t seq, int code, const char *text)
{
    size_t n = strlen(text);
    if (n > 200) n = 200;
    put16(r->tx + HDR, (uint32_t)code);
    memcpy(r->tx + HDR + 2, text, n);
    log_line(r, text);
    answer(r, req_type, seq, LWPROV_T_ERROR, 2 + n);
}

static size_t tlv(uint8_t *p, uint8_t tag, const uint8_t *v, size_t n)
{
    if (n > 255) n = 255;
    p[0] = tag;
    p[1] = (uint8_t)n;
    memcpy(p + 2, v, n);
    return 2 + n;
}

/* Identity strings are capped (64 bytes each, and whatever room is left in the frame) so IDENTITY always fits. */
static size_t tlv_str(uint8_t *p, uint8_t tag, const char *s, size_t room)
{
    size_t n;
    if (!s || !*s || room <= 2) return 0;
    n = strlen(s);
    if (n > 64) n = 64;
    if (n > room - 2) n = room - 2;
    return tlv(p, tag, (const uint8_t *)s, n);
}

/* Highest version this build speaks: v2 needs prove(), else only the v1 read-back is possible. */
static uint8_t max_version(const lwprov_receiver *r)
{
    return r->cfg.prove ? LWPROV_PROTOCOL_VERSION : 1u;
}

/* The version a host HELLO offers (TLV tag 01); a HELLO without it is from a version 1 host. */
static uint8_t host_version(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i + 2 <= n && i + 2 + p[i + 1] <= n) {
        if (p[i] == 0x01 && p[i + 1] == 1) return p[i + 2];
        i += 2u + p[i + 1];
    }
    return 1;
}

static size_t hello_payload(lwprov_receiver *r, uint8_t *p, uint8_t version)
{
    uint8_t v[4];
    size_t n = 0;
    uint32_t caps = 1u /* senml-cbor */ | (r->cfg.keygen ? 4u : 0u);
    v[0] = version;
    n += tlv(p + n, 0x01, v, 1);
    put16(v, LWPROV_MAX_FRAME);
    n += tlv(p + n, 0x02, v, 2);
    put32(v, caps);
    n += tlv(p + n, 0x03, v, 4);
    put32(v, LWPROV_MAX_PAYLOAD);
    n += tlv(p + n, 0x04, v, 4);
    n += tlv_str(p + n, 0x10, r->cfg.identity.serial, LWPROV_MAX_FRAME - n);
    n += tlv_str(p + n, 0x11, r->cfg.identity.imei, LWPROV_MAX_FRAME - n);
    n += tlv_str(p + n, 0x12, r->cfg.identity.mac, LWPROV_MAX_FRAME - n);
    n += tlv_str(p + n, 0x13, r->cfg.identity.model, LWPROV_MAX_FRAME - n);
    n += tlv_str(p + n, 0x14, r->cfg.identity.firmware, LWPROV_MAX_FRAME - n);
    return n;
}

/* ---- session ------------------------------------------------------------------------------------------------ */

void lwprov_init(lwprov_receiver *r, const lwprov_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
}

void lwprov_announce_boot(lwprov_receiver *r)
{
    size_t n = hello_payload(r, r->tx + HDR, max_version(r));
    r->tx_len = frame_finish(r->tx, LWPROV_T_BOOT, 0, n);
    r->have_last = 0;
    r->cfg.write(r->cfg.ctx, r->tx, r->tx_len);
}

static void drop_staged(lwprov_receiver *r)
{
    r->staging = 0;
    r->received = 0;
    r->total = 0;
}

static void digest_stored(lwprov_receiver *r, uint8_t out[32], uint32_t *len)
{
    lwprov_sha256_ctx c;
    lwprov_sha256_init(&c);
    *len = 0;
    if (r->cfg.load) {
        /* Hash what is really in storage, a chunk at a time through tx (the DIGEST answer is built after). */
        uint8_t *buf = r->tx + HDR + 36;
        size_t cap = sizeof r->tx - HDR - 36 - 4;
        size_t off = 0;
        long got;
        while ((got = r->cfg.load(r->cfg.ctx, off, buf, cap)) > 0) {
            lwprov_sha256_update(&c, buf, (size_t)got);
            off += (size_t)got;
        }
        *len = (uint32_t)off;
    } else {
        lwprov_sha256_update(&c, r->stage, r->committed_len);
        *len = (uint32_t)r->committed_len;
    }
    lwprov_sha256_final(&c, out);
}

static void handle(lwprov_receiver *r, uint8_t type, uint8_t seq, const uint8_t *p, size_t n)
{
    uint8_t tmp[4];
    if (type != LWPROV_T_HELLO && r->have_last && r->last_seq == seq && r->last_type == type) {
        /* The host missed our answer and repeated the request: answer again, never execute twice. */
        r->cfg.write(r->cfg.ctx, r->tx, r->tx_len);
        return;
    }
    if (type == LWPROV_T_HELLO) {
        uint8_t offered = host_version(p, n);
        r->in_session = 1;
        r->have_key = 0;
        /* The session speaks the lower of what the host offers and what this build can do. */
        r->session_version = offered < max_version(r) ? offered : max_version(r);
        if (r->session_version < 1) r->session_version = 1;
        drop_staged(r);
        log_line(r, r->session_version >= 2 ? "lwprov: host connected, session started (protocol v2)" : "lwprov: host connected, session started (protocol v1)");
        answer(r, type, seq, LWPROV_T_IDENTITY, hello_payload(r, r->tx + HDR, r->session_version));
        return;
    }
    if (!r->in_session) {
        answer_error(r, type, seq, LWPROV_E_BAD_STATE, "lwprov: no session, send HELLO first");
        return;
    }
    switch (type) {
    case LWPROV_T_KEYGEN: {
        char cn[65];
        size_t len = 0;
        if (!r->cfg.keygen) { answer_error(r, type, seq, LWPROV_E_UNSUPPORTED, "lwprov: key generation not supported"); return; }
        if (n < 2 || n - 1 > 64 || p[0] != 1) { answer_error(r, type, seq, LWPROV_E_UNSUPPORTED, "lwprov: KEYGEN needs key type 1 (P-256) and a CN of 1..64 bytes"); return; }
        memcpy(cn, p + 1, n - 1);
        cn[n - 1] = 0;
        log_line(r, "lwprov: generating EC P-256 key");
        if (r->cfg.keygen(r->cfg.ctx, cn, r->csr, sizeof r->csr, &len) != LWPROV_OK || len == 0 || len > sizeof r->csr) {
            r->have_key = 0;
            answer_error(r, type, seq, LWPROV_E_KEYGEN_FAILED, "lwprov: key generation failed");
            return;
        }
        r->have_key = 1;
        r->csr_len = (uint16_t)len;
        put16(tmp, (uint32_t)len);
        answer_ack(r, type, seq, tmp, 2);
        return;
    }
    case LWPROV_T_CSR_READ: {
        uint32_t off, want;
        if (!r->have_key) { answer_error(r, type, seq, LWPROV_E_BAD_STATE, "lwprov: no CSR, send KEYGEN first"); return; }
        if (n != 4) { answer_error(r, type, seq, LWPROV_E_BAD_MESSAGE, "lwprov: bad CSR_READ"); return; }
        off = get16(p);
        want = get16(p + 2);
        if (off > r->csr_len) off = r->csr_len;
        if (want > r->csr_len - off) want = r->csr_len - off;
        if (want > LWPROV_MAX_FRAME - 2) want = LWPROV_MAX_FRAME - 2;
        put16(r->tx + HDR, off);
        memcpy(r->tx + HDR + 2, r->csr + off, want);
        answer(r, type, seq, LWPROV_T_CSR_DATA, 2 + want);
        return;
    }
    case LWPROV_T_BEGIN:
        if (n != 38) { answer_error(r, type, seq, LWPROV_E_BAD_MESSAGE, "lwprov: bad BEGIN"); return; }
        drop_staged(r);
        if (p[36] != 1) { answer_error(r, type, seq, LWPROV_E_UNSUPPORTED, "lwprov: only SenML-CBOR payloads are supported"); return; }
        if (get32(p) > LWPROV_MAX_PAYLOAD) { answer_error(r, type, seq, LWPROV_E_TOO_LARGE, "lwprov: payload exceeds LWPROV_MAX_PAYLOAD"); return; }
        if ((p[37] & 1u) && !r->have_key) { answer_error(r, type, seq, LWPROV_E_BAD_STATE, "lwprov: no generated key in this session"); return; }
        r->total = get32(p);
        memcpy(r->digest, p + 4, 32);
        r->flags = p[37];
        r->staging = 1;
        log_line(r, "lwprov: receiving payload");
        answer_ack(r, type, seq, NULL, 0);
        return;
    case LWPROV_T_DATA: {
        uint32_t off;
        size_t len;
        if (!r->staging) { answer_error(r, type, seq, LWPROV_E_BAD_STATE, "lwprov: DATA before BEGIN"); return; }
        if (n < 4) { answer_error(r, type, seq, LWPROV_E_BAD_MESSAGE, "lwprov: bad DATA"); return; }
        off = get32(p);
        len = n - 4;
        if (off != r->received) { answer_error(r, type, seq, LWPROV_E_BAD_OFFSET, "lwprov: DATA out of order"); return; }
        if (len > r->total - r->received) { answer_error(r, type, seq, LWPROV_E_TOO_LARGE, "lwprov: DATA beyond the announced size"); return; }
        memcpy(r->stage + off, p + 4, len);
        r->received += (uint32_t)len;
        put32(tmp, r->received);
        answer_ack(r, type, seq, tmp, 4);
        return;
    }
    case LWPROV_T_COMMIT: {
        uint8_t d[32];
        char msg[96];
        int rc;
        lwprov_sha256_ctx c;
        if (!r->staging || r->received != r->total) { answer_error(r, type, seq, LWPROV_E_BAD_STATE, "lwprov: COMMIT before all DATA"); return; }
        lwprov_sha256_init(&c);
        lwprov_sha256_update(&c, r->stage, r->total);
        lwprov_sha256_final(&c, d);
        if (memcmp(d, r->digest, 32) != 0) {
            drop_staged(r);
            answer_error(r, type, seq, LWPROV_E_DIGEST_MISMATCH, "lwprov: staged payload does not match the BEGIN digest; nothing stored");
            return;
        }
        msg[0] = 0;
        rc = r->cfg.store(r->cfg.ctx, r->stage, r->total, (r->flags & 1u) ? 1 : 0, msg, sizeof msg);
        r->staging = 0;
        if (rc != LWPROV_OK) {
            answer_error(r, type, seq, rc == LWPROV_E_REFUSED ? LWPROV_E_REFUSED : LWPROV_E_STORE_FAILED,
                         msg[0] ? msg : "lwprov: storing the payload failed; nothing stored");
            return;
        }
        r->committed = 1;
        r->committed_len = r->total;
        log_line(r, "lwprov: payload committed");
        answer_ack(r, type, seq, NULL, 0);
        return;
    }
    case LWPROV_T_READBACK: {
        uint32_t len;
        uint8_t d[32];
        if (!r->cfg.load && !r->committed) { answer_error(r, type, seq, LWPROV_E_NOTHING_STORED, "lwprov: nothing committed"); return; }
        digest_stored(r, d, &len);
        if (r->cfg.load && len == 0) { answer_error(r, type, seq, LWPROV_E_NOTHING_STORED, "lwprov: nothing stored"); return; }
        memcpy(r->tx + HDR, d, 32);
        put32(r->tx + HDR + 32, len);
        answer(r, type, seq, LWPROV_T_DIGEST, 36);
        return;
    }
    case LWPROV_T_CHALLENGE: {
        /* docs/protocol.md 11: prove possession of the stored credential over a message binding the host's nonce,
         * the SHA-256 of what storage holds and the endpoint. */
        uint32_t len;
        uint8_t d[32], kind = 0;
        size_t m = 0, plen = 0;
        int rc;
        if (r->session_version < 2 || !r->cfg.prove) { answer_error(r, type, seq, LWPROV_E_UNSUPPORTED, "lwprov: CHALLENGE needs protocol version 2"); return; }
        if (n < 33 || n > 32 + 64) { answer_error(r, type, seq, LWPROV_E_BAD_MESSAGE, "lwprov: bad CHALLENGE"); return; }
        if (!r->cfg.load && !r->committed) { answer_error(r, type, seq, LWPROV_E_NOTHING_STORED, "lwprov: nothing committed"); return; }
        digest_stored(r, d, &len); /* scratch in tx; p lives in rx */
        if (r->cfg.load && len == 0) { answer_error(r, type, seq, LWPROV_E_NOTHING_STORED, "lwprov: nothing stored"); return; }
        memcpy(r->pop_msg, "lwprov-pop-v2", 13);
        r->pop_msg[13] = 0;
        m = 14;
        memcpy(r->pop_msg + m, p, 32);
        m += 32;
        memcpy(r->pop_msg + m, d, 32);
        m += 32;
        r->pop_msg[m++] = (uint8_t)(n - 32);
        memcpy(r->pop_msg + m, p + 32, n - 32);
        m += n - 32;
        log_line(r, "lwprov: proving possession of the stored credential");
        rc = r->cfg.prove(r->cfg.ctx, r->pop_msg, m, &kind, r->tx + HDR + 1, LWPROV_MAX_FRAME - 1, &plen);
        if (rc != LWPROV_OK || plen == 0 || plen > LWPROV_MAX_FRAME - 1 || (kind != LWPROV_PROOF_HMAC_SHA256 && kind != LWPROV_PROOF_SIGNATURE)) {
            answer_error(r, type, seq, rc == LWPROV_E_NO_CREDENTIAL ? LWPROV_E_NO_CREDENTIAL : LWPROV_E_STORE_FAILED,
                         rc == LWPROV_E_NO_CREDENTIAL ? "lwprov: the stored configuration holds no PSK or private key"
                                                      : "lwprov: cannot prove possession of the stored credential");
            return;
        }
        r->tx[HDR] = kind;
        answer(r, type, seq, LWPROV_T_PROOF, 1 + plen);
        return;
    }
    case LWPROV_T_ABORT:
        drop_staged(r);
        log_line(r, "lwprov: session aborted by host");
        answer_ack(r, type, seq, NULL, 0);
        return;
    default:
        answer_error(r, type, seq, LWPROV_E_UNSUPPORTED, "lwprov: unknown frame type");
        return;
    }
}

/* ---- scanner ------------------------------------------------------------------------------------------------ */

static void rx_drop(lwprov_receiver *r, size_t k)
{
    if (k >= r->rx_len) { r->rx_len = 0; return; }
    memmove(r->rx, r->rx + k, r->rx_len - k);
    r->rx_len -= k;
}

/* Moves the next (possibly partial) sync to the front of rx; everything before it is log text or noise. */
static void rx_seek_sync(lwprov_receiver *r)
{
    size_t i, k;
    for (i = 0; i < r->rx_len; i++) {
        if (r->rx[i] != SYNC0) continue;
        for (k = 1; k < 4 && i + k < r->rx_len; k++)
            if (r->rx[i + k] != SYNC[k]) break;
        if (k == 4 || i + k == r->rx_len) break;
    }
    rx_drop(r, i);
}

static void nak(lwprov_receiver *r, uint8_t seq)
{
    uint8_t f[LWPROV_FRAME_OVERHEAD + 1];
    size_t n;
    f[HDR] = 1; /* bad CRC */
    n = frame_finish(f, LWPROV_T_NAK, seq, 1);
    r->cfg.write(r->cfg.ctx, f, n);
}

static void rx_process(lwprov_receiver *r)
{
    for (;;) {
        size_t plen, total;
        rx_seek_sync(r);
        if (r->rx_len < HDR) return;
        if (lwprov_crc16(r->rx, 10) != get16(r->rx + 10)) { rx_drop(r, 1); continue; }
        plen = get16(r->rx + 8);
        if (plen > LWPROV_MAX_FRAME) { rx_drop(r, 1); continue; }
        total = HDR + plen + 4;
        if (r->rx_len < total) return;
        if (lwprov_crc32(r->rx + 4, HDR - 4 + plen) != get32(r->rx + HDR + plen)) {
            nak(r, r->rx[6]);
            rx_drop(r, 1);
            continue;
        }
        if (r->rx[4] != LWPROV_FRAME_VERSION) {
            answer_error(r, r->rx[5], r->rx[6], LWPROV_E_VERSION, "lwprov: protocol version not supported");
        } else {
            handle(r, r->rx[5], r->rx[6], r->rx + HDR, plen);
        }
        rx_drop(r, total);
    }
}

void lwprov_feed(lwprov_receiver *r, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t room = sizeof r->rx - r->rx_len;
        size_t take = len < room ? len : room;
        memcpy(r->rx + r->rx_len, data, take);
        r->rx_len += take;
        data += take;
        len -= take;
        rx_process(r);
        if (r->rx_len == sizeof r->rx) rx_drop(r, 1); /* cannot happen with a valid length; defensive */
    }
}
