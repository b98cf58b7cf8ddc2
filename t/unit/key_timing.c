
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * Is the client key compare constant time?  A dudect-style measurement
 * (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant time?",
 * 2017) of ngx_http_llm_keys_lookup(), the function every presented key
 * goes through: classes of credentials of one length, timed interleaved
 * in a random order, the slowest samples cropped, and Welch's t between
 * each pair of classes:
 *
 *   match   the configured key itself
 *   first   the key with its first byte changed
 *   last    the key with its last byte changed
 *
 * plus the bare digest compare (CRYPTO_memcmp: equal digests, first byte
 * differing, last byte differing) and, as the control that shows the
 * method can see a leak at all, a byte loop over the key that stops at
 * the first difference (first vs last byte differing).
 *
 *   key_timing [samples [keys]]    one line a pair: "name a-b t=<value>"
 *
 * With one key configured every class meets the same code and memory; with
 * many, a right key always walks the same path through the sorted digests
 * while wrong ones walk random paths (cache and predictor state differ,
 * not the secret): only wrong keys are compared among themselves then.
 * t/205-key-timing.t runs it and judges the numbers.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_keys.h"

#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if (defined __x86_64__ || defined __i386__)
#include <x86intrin.h>
#define unit_fence()  _mm_mfence()
#else
#define unit_fence()  __sync_synchronize()
#endif


#define KEYS       1024
#define CLASSES    3
#define CROP       0.90         /* the fastest 90 % of all samples kept */


typedef struct {
    double      n, mean, m2;    /* Welford */
} unit_stat_t;


static ngx_http_llm_key_t    unit_key[KEYS];
static ngx_http_llm_key_t   *unit_sorted[KEYS];
static ngx_http_llm_keys_t   unit_keys;

static volatile uintptr_t    unit_sink;


/* what the linked file refers to (the rest is dropped: --gc-sections) */
ngx_module_t  ngx_http_llm_module;


void
ngx_explicit_memzero(void *buf, size_t n)
{
    OPENSSL_cleanse(buf, n);
}


static int
unit_cmp_key(const void *one, const void *two)
{
    ngx_http_llm_key_t  *a = *(ngx_http_llm_key_t **) one;
    ngx_http_llm_key_t  *b = *(ngx_http_llm_key_t **) two;

    return memcmp(a->digest, b->digest, 8);
}


/* cycles where the CPU counts them, nanoseconds elsewhere */

static uint64_t
unit_now(void)
{
#if (defined __x86_64__ || defined __i386__)
    unsigned int  aux;

    return __rdtscp(&aux);
#else
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
#endif
}


static void
unit_add(unit_stat_t *s, double x)
{
    double  d;

    s->n++;
    d = x - s->mean;
    s->mean += d / s->n;
    s->m2 += d * (x - s->mean);
}


static double
unit_welch(unit_stat_t *a, unit_stat_t *b)
{
    double  va, vb;

    if (a->n < 2 || b->n < 2) {
        return 0;
    }

    va = a->m2 / (a->n - 1);
    vb = b->m2 / (b->n - 1);

    if (va + vb == 0) {
        return 0;
    }

    return (a->mean - b->mean) / sqrt(va / a->n + vb / b->n);
}


static int
unit_cmp_u64(const void *one, const void *two)
{
    uint64_t  a = *(uint64_t *) one, b = *(uint64_t *) two;

    return (a > b) - (a < b);
}


/*
 * Runs "samples" measurements of three classes, interleaved at random:
 * every input is prepared first (class 0: "base" itself; class 1: its
 * first byte changed; class 2: its last byte changed, by a random
 * non-zero value, or by 1 when "fixed"), then each is copied into the
 * same buffer and timed by the same code, so that only the data differ.
 * Prints Welch's t of each pair (0-1, 0-2, 1-2) after cropping.
 */

typedef uintptr_t (*unit_measure_pt)(u_char *in, size_t len);


static u_char  unit_work[64];


static void
unit_run(const char *name, unit_measure_pt f, u_char *base, size_t len,
    ngx_uint_t fixed, size_t samples)
{
    int            c, *cls;
    size_t         i;
    u_char        *in;
    uint64_t      *t, *sorted, cut, t0, t1;
    unit_stat_t    st[CLASSES];
    static const int    pairs[3][2] = { { 0, 1 }, { 0, 2 }, { 1, 2 } };
    static const char  *names[CLASSES] = { "match", "first", "last" };

    cls = malloc(samples * sizeof(int));
    in = malloc(samples * len);
    t = malloc(samples * sizeof(uint64_t));
    sorted = malloc(samples * sizeof(uint64_t));

    if (cls == NULL || in == NULL || t == NULL || sorted == NULL) {
        fprintf(stderr, "no memory\n");
        exit(2);
    }

    for (i = 0; i < samples; i++) {
        cls[i] = random() % CLASSES;
        memcpy(in + i * len, base, len);

        if (cls[i]) {
            in[i * len + (cls[i] == 1 ? 0 : len - 1)]
                ^= fixed ? 1 : (u_char) (1 + random() % 255);
        }
    }

    /* a warm-up round (caches, predictors, frequency), then the one */

    for (c = 0; c < 2; c++) {
        for (i = 0; i < samples; i++) {
            memcpy(unit_work, in + i * len, len);
            unit_fence();

            t0 = unit_now();
            unit_sink += f(unit_work, len);
            t1 = unit_now();

            t[i] = t1 - t0;
        }
    }

    memcpy(sorted, t, samples * sizeof(uint64_t));
    qsort(sorted, samples, sizeof(uint64_t), unit_cmp_u64);
    cut = sorted[(size_t) (samples * CROP)];

    memset(st, 0, sizeof(st));

    for (i = 0; i < samples; i++) {
        if (t[i] <= cut) {
            unit_add(&st[cls[i]], (double) t[i]);
        }
    }

    for (c = 0; c < 3; c++) {
        printf("%s %s-%s t=%.2f (%.1f vs %.1f cycles, n=%.0f/%.0f)\n", name,
               names[pairs[c][0]], names[pairs[c][1]],
               unit_welch(&st[pairs[c][0]], &st[pairs[c][1]]),
               st[pairs[c][0]].mean, st[pairs[c][1]].mean,
               st[pairs[c][0]].n, st[pairs[c][1]].n);
    }

    fflush(stdout);

    free(cls);
    free(in);
    free(t);
    free(sorted);
}


/* the lookup: a credential of 40 bytes against the configured keys */

static uintptr_t
unit_lookup(u_char *in, size_t len)
{
    ngx_str_t  cred;

    cred.data = in;
    cred.len = len;

    return (uintptr_t) ngx_http_llm_keys_lookup(&unit_keys, &cred);
}


/* the digest compare itself, against the target key's digest */

static u_char  unit_target[32];


static uintptr_t
unit_digest_cmp(u_char *in, size_t len)
{
    return CRYPTO_memcmp(unit_target, in, 32);
}


/*
 * The control: the compare a constant-time test exists to catch, a loop
 * over the bytes of a key that stops at the first difference.  It must
 * be seen leaking (first vs last byte), or the method is blind.
 */

static u_char  unit_secret[40];


static __attribute__((noinline)) uintptr_t
unit_naive_cmp(u_char *in, size_t len)
{
    size_t                 i;
    const volatile u_char  *a = unit_secret, *b = in;

    for (i = 0; i < len; i++) {
        if (a[i] != b[i]) {
            return 1;
        }
    }

    return 0;
}


int
main(int argc, char **argv)
{
    int                  i, nkeys;
    char                 secret[48];
    size_t               samples;
    ngx_str_t            cred;
    ngx_http_llm_key_t  *want;

    samples = (argc > 1) ? (size_t) atol(argv[1]) : 300000;
    nkeys = (argc > 2) ? atoi(argv[2]) : 1;

    if (nkeys < 1 || nkeys > KEYS) {
        fprintf(stderr, "1 to %d keys\n", KEYS);
        return 2;
    }

    srandom((unsigned) time(NULL));

    /* keys of 40 characters; the target in the middle */

    for (i = 0; i < nkeys; i++) {
        snprintf(secret, sizeof(secret), "sk-timing-%04d-%024ld", i,
                 (long) random());
        SHA256((u_char *) secret, 40, unit_key[i].digest);
        unit_key[i].name.data = (u_char *) "k";
        unit_key[i].name.len = 1;
        unit_sorted[i] = &unit_key[i];

        if (i == nkeys / 2) {
            memcpy(unit_secret, secret, 40);
        }
    }

    want = &unit_key[nkeys / 2];

    qsort(unit_sorted, nkeys, sizeof(ngx_http_llm_key_t *), unit_cmp_key);

    unit_keys.keys.elts = unit_key;
    unit_keys.keys.nelts = nkeys;
    unit_keys.keys.size = sizeof(ngx_http_llm_key_t);
    unit_keys.sorted = unit_sorted;
    unit_keys.ready = 1;

    /* the lookup works: the key found, any other credential not */

    cred.data = unit_work;
    cred.len = 40;

    memcpy(unit_work, unit_secret, 40);

    if (ngx_http_llm_keys_lookup(&unit_keys, &cred) != want) {
        printf("lookup broken\n");
        return 1;
    }

    for (i = 0; i < 40; i++) {
        memcpy(unit_work, unit_secret, 40);
        unit_work[i] ^= 0x20;

        if (ngx_http_llm_keys_lookup(&unit_keys, &cred) != NULL) {
            printf("lookup broken\n");
            return 1;
        }
    }

    for (i = 0; i < nkeys; i++) {
        cred.len = snprintf((char *) unit_work, sizeof(unit_work),
                            "sk-timing-%04d-x", i);

        if (ngx_http_llm_keys_lookup(&unit_keys, &cred) != NULL) {
            printf("lookup broken\n");
            return 1;
        }
    }

    printf("lookup ok\n");

    memcpy(unit_target, want->digest, 32);

    unit_run("lookup", unit_lookup, unit_secret, 40, 0, samples);
    unit_run("digest", unit_digest_cmp, want->digest, 32, 1, samples);
    unit_run("control", unit_naive_cmp, unit_secret, 40, 1, samples / 10);

    return 0;
}
