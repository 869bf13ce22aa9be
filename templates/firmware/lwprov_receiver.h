/*
 * lwprov device-side receiver, protocol version 2 (see docs/protocol.md in the lwprov repository).
 *
 * Portable C99, no malloc, no OS: the firmware hands received UART bytes to lwprov_feed() and provides callbacks
 * to write bytes, store the committed payload (e.g. to flash, or apply it with anjay_factory_provision()), read
 * it back, prove possession of the stored credential (protocol v2), and optionally generate a key pair + CSR. All buffers live in the lwprov_receiver struct, which the
 * firmware allocates statically. Log text printed on the same UART between frames is harmless: the host skips it.
 *
 * Licensed Apache-2.0, like lwprov. Copy these two files into the factory image.
 */
#ifndef LWPROV_RECEIVER_H
#define LWPROV_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest frame payload this receiver accepts (announced in HELLO). 256..4096. */
#ifndef LWPROV_MAX_FRAME
#define LWPROV_MAX_FRAME 1024
#endif
/** Largest SenML-CBOR payload it can stage (announced as capacity). */
#ifndef LWPROV_MAX_PAYLOAD
#define LWPROV_MAX_PAYLOAD 8192
#endif
/** Largest CSR the keygen callback may produce. */
#ifndef LWPROV_MAX_CSR
#define LWPROV_MAX_CSR 1024
#endif

/** Highest session protocol version (negotiated in HELLO); 2 needs the prove callback, else 1 is announced. */
#define LWPROV_PROTOCOL_VERSION 2
/** Frame encoding version (header byte 4): unchanged by protocol v2. */
#define LWPROV_FRAME_VERSION 1
#define LWPROV_FRAME_OVERHEAD 16
/** Proof message: "lwprov-pop-v2" 00 | nonce 32 | stored SHA-256 32 | u8 len | endpoint (<= 64), docs/protocol.md 11.2. */
#define LWPROV_POP_MSG_MAX (14 + 32 + 32 + 1 + 64)

/* Frame types (docs/protocol.md §3). */
enum {
    LWPROV_T_HELLO = 0x01,
    LWPROV_T_BEGIN = 0x02,
    LWPROV_T_DATA = 0x03,
    LWPROV_T_COMMIT = 0x04,
    LWPROV_T_READBACK = 0x05,
    LWPROV_T_KEYGEN = 0x06,
    LWPROV_T_CSR_READ = 0x07,
    LWPROV_T_ABORT = 0x08,
    LWPROV_T_CHALLENGE = 0x09,
    LWPROV_T_BOOT = 0x80,
    LWPROV_T_IDENTITY = 0x81,
    LWPROV_T_ACK = 0x82,
    LWPROV_T_NAK = 0x83,
    LWPROV_T_DIGEST = 0x84,
    LWPROV_T_CSR_DATA = 0x85,
    LWPROV_T_PROOF = 0x86,
    LWPROV_T_ERROR = 0x8f
};

/* Error codes in ERROR frames; store/keygen callbacks return one of these (0 = success). */
enum {
    LWPROV_OK = 0,
    LWPROV_E_BAD_STATE = 1,
    LWPROV_E_BAD_MESSAGE = 2,
    LWPROV_E_TOO_LARGE = 3,
    LWPROV_E_BAD_OFFSET = 4,
    LWPROV_E_DIGEST_MISMATCH = 5,
    LWPROV_E_STORE_FAILED = 6,
    LWPROV_E_REFUSED = 7,
    LWPROV_E_UNSUPPORTED = 8,
    LWPROV_E_KEYGEN_FAILED = 9,
    LWPROV_E_VERSION = 10,
    LWPROV_E_NOTHING_STORED = 11,
    LWPROV_E_NO_CREDENTIAL = 12
};

/* PROOF kinds (docs/protocol.md 11.2). */
enum {
    LWPROV_PROOF_HMAC_SHA256 = 1, /* HMAC-SHA256 keyed with the stored PSK (/0/x/5) */
    LWPROV_PROOF_SIGNATURE = 2    /* ECDSA (DER) or RSA PKCS#1 v1.5 over SHA-256 with the stored private key */
};

/** Device identity announced in HELLO/BOOT. NULL or "" fields are omitted. */
typedef struct {
    const char *serial;
    const char *imei;
    const char *mac;
    const char *model;
    const char *firmware;
} lwprov_identity;

typedef struct {
    void *ctx;
    /** Writes bytes to the host; returns 0 on success. Required. */
    int (*write)(void *ctx, const uint8_t *buf, size_t len);
    /**
     * Stores the complete, digest-checked payload atomically (all or nothing: write a spare slot, then switch).
     * use_generated_key != 0: bind the key made by keygen in this session to the security instance (/0/x/5 is
     * absent or empty in the payload). Returns LWPROV_OK, LWPROV_E_STORE_FAILED or LWPROV_E_REFUSED, and may put
     * a short reason in msg. Required.
     */
    int (*store)(void *ctx, const uint8_t *payload, size_t len, int use_generated_key, char *msg, size_t msg_size);
    /**
     * Reads the stored payload back from where store() put it, from offset, into buf; returns the bytes read
     * (0 at the end) or < 0 if nothing is stored. Optional: without it the receiver hashes its RAM copy, which
     * proves less.
     */
    long (*load)(void *ctx, size_t offset, uint8_t *buf, size_t cap);
    /**
     * Generates an EC P-256 key pair into a staging slot (kept private, never sent) and writes a PKCS#10 CSR
     * (DER, subject CN = cn) to csr; returns LWPROV_OK or LWPROV_E_KEYGEN_FAILED. Optional: NULL means no keygen
     * capability.
     */
    int (*keygen)(void *ctx, const char *cn, uint8_t *csr, size_t cap, size_t *csr_len);
    /**
     * Protocol v2 proof of possession: reloads the stored credential (from storage, or the secure-element / PSA key
     * the stored configuration refers to; never a RAM copy of what was received) and writes to out either
     * HMAC-SHA256(PSK, msg) with *kind = LWPROV_PROOF_HMAC_SHA256 (lwprov_hmac_sha256() does it without a crypto
     * library), or a signature over SHA-256(msg) with the private key, *kind = LWPROV_PROOF_SIGNATURE. msg is the
     * complete proof message built by the receiver. Returns LWPROV_OK, LWPROV_E_NO_CREDENTIAL (NoSec, nothing stored)
     * or LWPROV_E_STORE_FAILED. Optional: without it the receiver announces protocol version 1 (read-back only).
     */
    int (*prove)(void *ctx, const uint8_t *msg, size_t msg_len, uint8_t *kind, uint8_t *out, size_t cap, size_t *out_len);
    /** Prints a log line (no newline) on the console. Optional. */
    void (*log)(void *ctx, const char *line);
    lwprov_identity identity;
} lwprov_config;

/* SHA-256, exposed for the firmware's own use (e.g. hashing flash for load-less read-back). */
typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t buf[64];
    size_t n;
} lwprov_sha256_ctx;
void lwprov_sha256_init(lwprov_sha256_ctx *c);
void lwprov_sha256_update(lwprov_sha256_ctx *c, const uint8_t *data, size_t len);
void lwprov_sha256_final(lwprov_sha256_ctx *c, uint8_t out[32]);
/** HMAC-SHA256 (RFC 2104), for prove() implementations that hold the PSK in readable storage. */
void lwprov_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t out[32]);
uint32_t lwprov_crc32(const uint8_t *data, size_t len);
uint16_t lwprov_crc16(const uint8_t *data, size_t len);

/** Receiver state; allocate statically (about LWPROV_MAX_PAYLOAD + 2 * LWPROV_MAX_FRAME + LWPROV_MAX_CSR bytes). */
typedef struct {
    lwprov_config cfg;
    uint8_t rx[LWPROV_MAX_FRAME + LWPROV_FRAME_OVERHEAD];
    size_t rx_len;
    /* Last answer, resent verbatim when the host repeats a request (same seq and type). */
    uint8_t tx[LWPROV_MAX_FRAME + LWPROV_FRAME_OVERHEAD];
    size_t tx_len;
    int have_last;
    uint8_t last_seq;
    uint8_t last_type;
    /* Session. */
    int in_session;
    int staging;
    uint32_t total;
    uint32_t received;
    uint8_t digest[32];
    uint8_t flags;
    int have_key;
    uint16_t csr_len;
    int committed;
    size_t committed_len;
    uint8_t session_version; /* negotiated by the last HELLO */
    uint8_t pop_msg[LWPROV_POP_MSG_MAX];
    uint8_t stage[LWPROV_MAX_PAYLOAD];
    uint8_t csr[LWPROV_MAX_CSR];
} lwprov_receiver;

/** Initialises the receiver (copies cfg). Call once at boot, then lwprov_announce_boot(). */
void lwprov_init(lwprov_receiver *r, const lwprov_config *cfg);
/** Sends the BOOT frame so a host mid-session learns the device rebooted. */
void lwprov_announce_boot(lwprov_receiver *r);
/** Feeds received bytes (any split); answers are written through cfg.write from inside this call. */
void lwprov_feed(lwprov_receiver *r, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* LWPROV_RECEIVER_H */
