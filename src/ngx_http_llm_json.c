
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_json.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#if (defined __SSE2__ && defined __GNUC__)
#include <emmintrin.h>
#define NGX_HTTP_LLM_JSON_SSE2  1
#endif

/*
 * AVX2, when the CPU has it (checked once, at run time: the module is
 * built for any x86-64): 32 bytes a step over long string runs, a 100 KB
 * message is a few thousand steps instead of twice as many
 */

#if (NGX_HTTP_LLM_JSON_SSE2 && defined __x86_64__                             \
     && (__GNUC__ >= 5 || defined __clang__))
#include <immintrin.h>
#define NGX_HTTP_LLM_JSON_AVX2  1

static u_char *ngx_http_llm_json_run_avx2(u_char *p, u_char *last);
static ngx_int_t  ngx_http_llm_json_avx2 = -1;

/* a run at least this long goes to the AVX2 loop */
#define NGX_HTTP_LLM_JSON_AVX2_MIN  64

#define ngx_http_llm_json_use_avx2(p, last)                                   \
    ((last) - (p) >= NGX_HTTP_LLM_JSON_AVX2_MIN                               \
     && (ngx_http_llm_json_avx2 >= 0 ? ngx_http_llm_json_avx2                 \
                                     : ngx_http_llm_json_avx2_init()))

static ngx_int_t
ngx_http_llm_json_avx2_init(void)
{
    __builtin_cpu_init();
    ngx_http_llm_json_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;

    return ngx_http_llm_json_avx2;
}

#endif


static u_char *ngx_http_llm_json_primitive(u_char *p, u_char *last);
static ngx_int_t ngx_http_llm_json_grow(ngx_pool_t *pool,
    ngx_http_llm_json_tok_t **toks, ngx_uint_t *cap, ngx_uint_t max,
    size_t len);


/* tokens of the parse under way (see ngx_http_llm_json_parse()) */

#define NGX_HTTP_LLM_JSON_SCRATCH  1024

static ngx_http_llm_json_tok_t
    ngx_http_llm_json_scratch[NGX_HTTP_LLM_JSON_SCRATCH];
static ngx_int_t ngx_http_llm_json_hex4(u_char *p);
static u_char *ngx_http_llm_json_skip_string(u_char *p, u_char *last,
    ngx_uint_t *escaped);
static size_t ngx_http_llm_json_utf8(u_char *p, u_char *last);


/* the public token types must stay the same as jsmn's */

typedef char ngx_http_llm_json_layout_check[
    (JSMN_OBJECT == NGX_HTTP_LLM_JSON_OBJECT
     && JSMN_ARRAY == NGX_HTTP_LLM_JSON_ARRAY
     && JSMN_STRING == NGX_HTTP_LLM_JSON_STRING
     && JSMN_PRIMITIVE == NGX_HTTP_LLM_JSON_PRIMITIVE) ? 1 : -1];


ngx_int_t
ngx_http_llm_json_parse(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    u_char *data, size_t len, ngx_uint_t max_tokens)
{
    u_char                   *p, *last, *q;
    ngx_int_t                 kidx;
    ngx_uint_t                depth, want_key, escaped, n, cap, full;
    ngx_http_llm_json_tok_t  *toks, *t;
    int                       stack[NGX_HTTP_LLM_JSON_MAX_DEPTH];
    u_char                    kinds[NGX_HTTP_LLM_JSON_MAX_DEPTH];

    /*
     * One strict pass (the grammar of ngx_http_llm_json_scan()) that
     * writes the tokens jsmn's strict mode wrote for the same text: the
     * same types, offsets and sizes (an object counts its keys, a key 1,
     * an array its elements).  jsmn's one quirk kept: a number or literal
     * as the whole text must be followed by something (whitespace).
     * More than max_tokens tokens: the rest is still checked, then
     * NGX_ABORT.
     */

    /*
     * The tokens go to the worker's scratch array first; the pool gets a
     * copy of exactly what was written (most texts, requests and events,
     * have a few dozen tokens), or, past the scratch, an array grown from
     * a guess of one token per 8 bytes.  The parse never yields, so one
     * array serves every parse of the worker.
     */

    toks = ngx_http_llm_json_scratch;
    cap = ngx_min(NGX_HTTP_LLM_JSON_SCRATCH, max_tokens);

    p = data;
    last = data + len;
    depth = 0;
    want_key = 0;
    kidx = -1;
    n = 0;
    full = 0;
    t = NULL;

#define ngx_http_llm_ws()                                                     \
    while (p < last && (*p == ' ' || *p == '\n' || *p == '\r'                 \
                        || *p == '\t'))                                       \
    {                                                                         \
        p++;                                                                  \
    }

    /* the next token, or t NULL past max_tokens */

#define ngx_http_llm_tok(ty, s, e)                                            \
    if (n == cap && !full) {                                                  \
        if (ngx_http_llm_json_grow(pool, &toks, &cap, max_tokens, len)        \
            != NGX_OK)                                                        \
        {                                                                     \
            if (cap < max_tokens) {                                           \
                return NGX_ERROR;                                             \
            }                                                                 \
            full = 1;                                                         \
        }                                                                     \
    }                                                                         \
    if (full) {                                                               \
        t = NULL;                                                             \
    } else {                                                                  \
        t = &toks[n];                                                         \
        t->type = ty;                                                         \
        t->start = (int) ((s) - data);                                        \
        t->end = (int) ((e) - data);                                          \
        t->size = 0;                                                          \
        t->next = (int) n + 1;                                                \
        t->esc = 0;                                                           \
    }                                                                         \
    n++

    /* a value in the current container: its count, or its key's */

#define ngx_http_llm_child()                                                  \
    if (depth && !full) {                                                     \
        if (kinds[depth - 1] == '{') {                                        \
            toks[kidx].size++;                                                \
        } else {                                                              \
            toks[stack[depth - 1]].size++;                                    \
        }                                                                     \
    }

    for ( ;; ) {

        ngx_http_llm_ws();

        if (p == last) {
            return NGX_DECLINED;
        }

        if (want_key) {

            /* "key" : */

            if (*p != '"') {
                return NGX_DECLINED;
            }

            escaped = 0;
            q = ngx_http_llm_json_skip_string(p + 1, last, &escaped);

            if (q == NULL) {
                return NGX_DECLINED;
            }

            ngx_http_llm_tok(NGX_HTTP_LLM_JSON_STRING, p + 1, q);

            if (t) {
                t->esc = (int) escaped;
            }

            if (!full) {
                toks[stack[depth - 1]].size++;
                kidx = n - 1;
            }

            p = q + 1;

            ngx_http_llm_ws();

            if (p == last || *p != ':') {
                return NGX_DECLINED;
            }

            p++;
            want_key = 0;
            continue;
        }

        /* a value */

        ngx_http_llm_child();

        switch (*p) {

        case '{':
        case '[':
            if (depth == NGX_HTTP_LLM_JSON_MAX_DEPTH) {
                return NGX_DECLINED;
            }

            ngx_http_llm_tok(*p == '{' ? NGX_HTTP_LLM_JSON_OBJECT
                                       : NGX_HTTP_LLM_JSON_ARRAY,
                             p, data - 1);

            kinds[depth] = *p;
            stack[depth] = (int) n - 1;
            depth++;
            p++;

            ngx_http_llm_ws();

            if (p < last && *p == (kinds[depth - 1] == '{' ? '}' : ']')) {
                p++;
                depth--;

                if (t) {
                    t->end = (int) (p - data);
                }

                break;
            }

            want_key = (kinds[depth - 1] == '{');
            continue;

        case '"':
            escaped = 0;
            q = ngx_http_llm_json_skip_string(p + 1, last, &escaped);

            if (q == NULL) {
                return NGX_DECLINED;
            }

            ngx_http_llm_tok(NGX_HTTP_LLM_JSON_STRING, p + 1, q);

            if (t) {
                t->esc = (int) escaped;
            }

            p = q + 1;
            break;

        default:
            q = p;

            p = ngx_http_llm_json_primitive(p, last);

            if (p == NULL) {
                return NGX_DECLINED;
            }

            if (depth == 0 && p == last) {
                /* jsmn's strict mode: nothing after a top-level primitive */
                return NGX_DECLINED;
            }

            ngx_http_llm_tok(NGX_HTTP_LLM_JSON_PRIMITIVE, q, p);
        }

        /* a value ended at p, maybe closing containers after it */

        for ( ;; ) {

            ngx_http_llm_ws();

            if (depth == 0) {
                if (p != last) {
                    return NGX_DECLINED;
                }

                if (full) {
                    return NGX_ABORT;
                }

                if (toks == ngx_http_llm_json_scratch) {
                    toks = ngx_palloc(pool,
                                      n * sizeof(ngx_http_llm_json_tok_t));
                    if (toks == NULL) {
                        return NGX_ERROR;
                    }

                    ngx_memcpy(toks, ngx_http_llm_json_scratch,
                               n * sizeof(ngx_http_llm_json_tok_t));
                }

                js->data = data;
                js->len = len;
                js->toks = toks;
                js->ntoks = n;

                return NGX_OK;
            }

            if (p == last) {
                return NGX_DECLINED;
            }

            if (*p == ',') {
                p++;
                want_key = (kinds[depth - 1] == '{');
                break;
            }

            if (*p != (kinds[depth - 1] == '{' ? '}' : ']')) {
                return NGX_DECLINED;
            }

            p++;
            depth--;

            if (!full) {
                toks[stack[depth]].end = (int) (p - data);
                toks[stack[depth]].next = (int) n;
            }
        }
    }

#undef ngx_http_llm_ws
#undef ngx_http_llm_tok
#undef ngx_http_llm_child
}


/*
 * a token array 4 times larger (from the scratch: at least one token per 8
 * bytes of the text), up to max: NGX_DECLINED at max already
 */

static ngx_int_t
ngx_http_llm_json_grow(ngx_pool_t *pool, ngx_http_llm_json_tok_t **toks,
    ngx_uint_t *cap, ngx_uint_t max, size_t len)
{
    ngx_uint_t                n;
    ngx_http_llm_json_tok_t  *t;

    if (*cap >= max) {
        return NGX_DECLINED;
    }

    n = *cap * 4;

    if (*toks == ngx_http_llm_json_scratch && n < len / 8 + 64) {
        n = len / 8 + 64;
    }

    if (n > max) {
        n = max;
    }

    t = ngx_palloc(pool, n * sizeof(ngx_http_llm_json_tok_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(t, *toks, *cap * sizeof(ngx_http_llm_json_tok_t));

    if (*toks != ngx_http_llm_json_scratch) {
        ngx_pfree(pool, *toks);
    }

    *toks = t;
    *cap = n;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_json_getn(ngx_http_llm_json_t *js, ngx_int_t obj,
    const char *key, size_t len)
{
    ngx_int_t                 i, n, count;
    ngx_http_llm_json_tok_t  *t;

    if (obj < 0 || obj >= js->ntoks || js->toks[obj].type != JSMN_OBJECT) {
        return -1;
    }

    count = js->toks[obj].size;

    for (i = obj + 1, n = 0; n < count && i < js->ntoks; n++) {
        t = &js->toks[i];

        if (t->type == JSMN_STRING
            && (size_t) (t->end - t->start) == len
            && (len == 0 || js->data[t->start] == (u_char) key[0])
            && ngx_memcmp(js->data + t->start, key, len) == 0
            && i + 1 < js->ntoks)
        {
            return i + 1;
        }

        /* skip the key and its value */

        i = ngx_http_llm_json_skip(js, i + 1);
    }

    return -1;
}


ngx_int_t
ngx_http_llm_json_index(ngx_http_llm_json_t *js, ngx_int_t arr, ngx_int_t n)
{
    ngx_int_t  i, k;

    if (arr < 0 || arr >= js->ntoks || js->toks[arr].type != JSMN_ARRAY
        || n >= js->toks[arr].size)
    {
        return -1;
    }

    for (i = arr + 1, k = 0; k < n; k++) {
        i = ngx_http_llm_json_skip(js, i);
    }

    return i;
}


void
ngx_http_llm_json_raw(ngx_http_llm_json_t *js, ngx_int_t i, ngx_str_t *out)
{
    out->data = js->data + js->toks[i].start;
    out->len = js->toks[i].end - js->toks[i].start;
}


ngx_int_t
ngx_http_llm_json_string(ngx_pool_t *pool, ngx_http_llm_json_t *js,
    ngx_int_t i, ngx_str_t *out)
{
    if (i < 0 || js->toks[i].type != JSMN_STRING) {
        return NGX_DECLINED;
    }

    if (!js->toks[i].esc) {
        out->data = js->data + js->toks[i].start;
        out->len = js->toks[i].end - js->toks[i].start;
        return NGX_OK;
    }

    return ngx_http_llm_json_unescape(pool, js->data + js->toks[i].start,
                                      js->data + js->toks[i].end, out);
}


ngx_int_t
ngx_http_llm_json_unescape(ngx_pool_t *pool, u_char *s, u_char *last,
    ngx_str_t *out)
{
    u_char      *p, *d;
    uint32_t     cp, lo;
    ngx_uint_t   k;

    if (memchr(s, '\\', last - s) == NULL) {
        out->data = s;
        out->len = last - s;
        return NGX_OK;
    }

    d = ngx_pnalloc(pool, last - s);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;

    for (p = s; p < last; p++) {

        if (*p != '\\') {
            *d++ = *p;
            continue;
        }

        if (++p == last) {
            return NGX_DECLINED;
        }

        switch (*p) {
        case '"':  *d++ = '"';  break;
        case '\\': *d++ = '\\'; break;
        case '/':  *d++ = '/';  break;
        case 'b':  *d++ = '\b'; break;
        case 'f':  *d++ = '\f'; break;
        case 'n':  *d++ = '\n'; break;
        case 'r':  *d++ = '\r'; break;
        case 't':  *d++ = '\t'; break;

        case 'u':
            if (last - p < 5) {
                return NGX_DECLINED;
            }

            cp = 0;

            for (k = 1; k <= 4; k++) {
                cp <<= 4;

                if (p[k] >= '0' && p[k] <= '9') {
                    cp |= p[k] - '0';

                } else if ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'f') {
                    cp |= (p[k] | 0x20) - 'a' + 10;

                } else {
                    return NGX_DECLINED;
                }
            }

            p += 4;

            if (cp >= 0xd800 && cp <= 0xdbff && last - p >= 7
                && p[1] == '\\' && p[2] == 'u')
            {
                lo = 0;

                for (k = 3; k <= 6; k++) {
                    lo <<= 4;

                    if (p[k] >= '0' && p[k] <= '9') {
                        lo |= p[k] - '0';

                    } else if ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'f') {
                        lo |= (p[k] | 0x20) - 'a' + 10;

                    } else {
                        return NGX_DECLINED;
                    }
                }

                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }

            if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;
            }

            if (cp < 0x80) {
                *d++ = (u_char) cp;

            } else if (cp < 0x800) {
                *d++ = (u_char) (0xc0 | (cp >> 6));
                *d++ = (u_char) (0x80 | (cp & 0x3f));

            } else if (cp < 0x10000) {
                *d++ = (u_char) (0xe0 | (cp >> 12));
                *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (cp & 0x3f));

            } else {
                *d++ = (u_char) (0xf0 | (cp >> 18));
                *d++ = (u_char) (0x80 | ((cp >> 12) & 0x3f));
                *d++ = (u_char) (0x80 | ((cp >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (cp & 0x3f));
            }

            break;

        default:
            return NGX_DECLINED;
        }
    }

    out->len = d - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_json_int(ngx_http_llm_json_t *js, ngx_int_t i, ngx_int_t *out)
{
    u_char     *p, *last;
    ngx_int_t   n;

    if (i < 0 || js->toks[i].type != JSMN_PRIMITIVE) {
        return NGX_DECLINED;
    }

    p = js->data + js->toks[i].start;
    last = js->data + js->toks[i].end;

    /* accept "12" and "12.0"; reject anything else */

    n = 0;

    if (p == last || *p < '0' || *p > '9') {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        if (n > (NGX_MAX_INT_T_VALUE - 9) / 10) {
            return NGX_DECLINED;
        }

        n = n * 10 + (*p - '0');
    }

    if (p < last && *p == '.') {
        for (p++; p < last && *p == '0'; p++) { /* void */ }
    }

    if (p != last) {
        return NGX_DECLINED;
    }

    *out = n;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_json_bool(ngx_http_llm_json_t *js, ngx_int_t i)
{
    if (i < 0 || js->toks[i].type != JSMN_PRIMITIVE) {
        return -1;
    }

    switch (js->data[js->toks[i].start]) {
    case 't':
        return 1;
    case 'f':
        return 0;
    default:
        return -1;
    }
}


ngx_int_t
ngx_http_llm_json_is_null(ngx_http_llm_json_t *js, ngx_int_t i)
{
    return i >= 0 && js->toks[i].type == JSMN_PRIMITIVE
           && js->data[js->toks[i].start] == 'n';
}


static ngx_int_t
ngx_http_llm_json_hex4(u_char *p)
{
    ngx_uint_t  i;
    u_char      c;

    for (i = 0; i < 4; i++) {
        c = p[i] | 0x20;

        if (!((p[i] >= '0' && p[i] <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


#if (NGX_HTTP_LLM_JSON_AVX2)

/*
 * The first byte in [p, last) that ends a plain run (as the SSE2 loops
 * below: '"', '\\', a control character, a byte >= 0x80), looked for 32
 * bytes at a time; or the point where fewer than 32 are left
 */

__attribute__((target("avx2")))
static u_char *
ngx_http_llm_json_run_avx2(u_char *p, u_char *last)
{
    unsigned int  mask;
    __m256i       v, m;
    __m256i       quote = _mm256_set1_epi8('"');
    __m256i       bslash = _mm256_set1_epi8('\\');
    __m256i       ctl = _mm256_set1_epi8(0x1f);

    while (last - p >= 32) {
        v = _mm256_loadu_si256((const __m256i *) p);
        m = _mm256_or_si256(_mm256_cmpeq_epi8(v, quote),
                            _mm256_cmpeq_epi8(v, bslash));
        m = _mm256_or_si256(m, _mm256_cmpeq_epi8(_mm256_min_epu8(v, ctl), v));
        mask = (unsigned int) _mm256_movemask_epi8(m)
               | (unsigned int) _mm256_movemask_epi8(v);

        if (mask) {
            return p + __builtin_ctz(mask);
        }

        p += 32;
    }

    return p;
}

#endif


/*
 * A literal (true, false, null) or a number at p: its end, or NULL when it
 * is neither (the grammar shared by the reader and the scanner)
 */

static u_char *
ngx_http_llm_json_primitive(u_char *p, u_char *last)
{
    switch (*p) {

    case 't':
        return (last - p >= 4 && ngx_memcmp(p, "true", 4) == 0) ? p + 4 : NULL;

    case 'f':
        return (last - p >= 5 && ngx_memcmp(p, "false", 5) == 0) ? p + 5
                                                                  : NULL;

    case 'n':
        return (last - p >= 4 && ngx_memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
    }

    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */

    if (*p == '-') {
        p++;
    }

    if (p == last || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p++ != '0') {
        while (p < last && *p >= '0' && *p <= '9') { p++; }
    }

    if (p < last && *p == '.') {
        p++;

        if (p == last || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < last && *p >= '0' && *p <= '9') { p++; }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == last || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < last && *p >= '0' && *p <= '9') { p++; }
    }

    return p;
}


/* the body of a string, p after the opening quote: p at the closing one */

static u_char *
ngx_http_llm_json_skip_string(u_char *p, u_char *last, ngx_uint_t *escaped)
{
    size_t      n;
#if (NGX_HTTP_LLM_JSON_AVX2)
    ngx_uint_t  ascii;
#endif

    /*
     * 1 for the bytes that end a run of plain ASCII string characters:
     * controls, '"', '\\', and the bytes of multi-byte UTF-8 sequences,
     * which are checked (RFC 8259 8.1: JSON text is UTF-8)
     */

    static const u_char  special[256] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x00 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x10 */
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* '"' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,   /* '\\' */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* 0x80 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    };

#if (NGX_HTTP_LLM_JSON_SSE2)
    int       mask;
    __m128i   v, m;
    __m128i   quote = _mm_set1_epi8('"');
    __m128i   bslash = _mm_set1_epi8('\\');
    __m128i   ctl = _mm_set1_epi8(0x1f);
#endif

#if (NGX_HTTP_LLM_JSON_AVX2)
    ascii = 1;
#endif

    for ( ;; ) {

#if (NGX_HTTP_LLM_JSON_SSE2)

        /*
         * 16 bytes at a time: '"', '\\', a control character (unsigned,
         * min(v, 0x1f) == v) or a byte >= 0x80 (its top bit) ends the run;
         * after 64 plain bytes, a long run: the AVX2 loop takes it on
         */

        for (n = 0; last - p >= 16; n++) {
            v = _mm_loadu_si128((const __m128i *) p);
            m = _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                             _mm_cmpeq_epi8(v, bslash));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
            mask = _mm_movemask_epi8(m) | _mm_movemask_epi8(v);

            if (mask) {
                p += __builtin_ctz((unsigned int) mask);

                /* most runs end at the closing quote: no byte loops */

                if (*p == '"') {
                    return p;
                }

                break;
            }

            p += 16;

#if (NGX_HTTP_LLM_JSON_AVX2)
            if (n == 3 && ascii && ngx_http_llm_json_use_avx2(p, last)) {
                p = ngx_http_llm_json_run_avx2(p, last);
            }
#endif
        }
#endif

        while (last - p >= 4
               && !(special[p[0]] | special[p[1]] | special[p[2]]
                    | special[p[3]]))
        {
            p += 4;
        }

        while (p < last && !special[*p]) {
            p++;
        }

        if (p == last || *p < 0x20) {
            return NULL;
        }

        if (*p == '"') {
            return p;
        }

        if (*p >= 0x80) {

#if (NGX_HTTP_LLM_JSON_AVX2)
            /*
             * text that is not ASCII stops every step: the AVX2 loop is
             * left to the ASCII strings
             */

            ascii = 0;
#endif

            n = ngx_http_llm_json_utf8(p, last);

            if (n == 0) {
                return NULL;
            }

            p += n;
            continue;
        }

        *escaped = 1;

        if (++p == last) {
            return NULL;
        }

        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            p++;
            break;

        case 'u':
            if (last - p < 5 || !ngx_http_llm_json_hex4(p + 1)) {
                return NULL;
            }

            p += 5;
            break;

        default:
            return NULL;
        }
    }
}


/*
 * The length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), 0 when it is not one
 */

static size_t
ngx_http_llm_json_utf8(u_char *p, u_char *last)
{
    u_char  c, lo, hi;
    size_t  n, i;

    c = *p;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; lo = 0x80; hi = 0xbf;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


ngx_int_t
ngx_http_llm_json_scan(u_char *p, u_char *last,
    ngx_http_llm_json_member_t *members, ngx_uint_t max, ngx_uint_t *n)
{
    u_char                      *vstart, *key, *key_end, *q;
    ngx_uint_t                   depth, count, want_key, escaped, key_esc;
    u_char                       stack[NGX_HTTP_LLM_JSON_MAX_DEPTH];
    u_char                      *starts[NGX_HTTP_LLM_JSON_MAX_DEPTH];
    ngx_http_llm_json_member_t  *m;

    depth = 0;
    count = 0;
    want_key = 0;
    key = NULL;
    key_end = NULL;
    key_esc = 0;

#define ngx_http_llm_ws()                                                     \
    while (p < last && (*p == ' ' || *p == '\n' || *p == '\r'                 \
                        || *p == '\t'))                                       \
    {                                                                         \
        p++;                                                                  \
    }

#define ngx_http_llm_closing(c)  ((c) == '{' ? '}' : ']')

    for ( ;; ) {

        ngx_http_llm_ws();

        if (p == last) {
            return NGX_DECLINED;
        }

        if (want_key) {

            /* "key" : */

            if (*p != '"') {
                return NGX_DECLINED;
            }

            escaped = 0;
            q = ngx_http_llm_json_skip_string(p + 1, last, &escaped);

            if (q == NULL) {
                return NGX_DECLINED;
            }

            if (depth == 1) {
                key = p + 1;
                key_end = q;
                key_esc = escaped;
            }

            p = q + 1;

            ngx_http_llm_ws();

            if (p == last || *p != ':') {
                return NGX_DECLINED;
            }

            p++;
            want_key = 0;
            continue;
        }

        /* a value */

        vstart = p;

        switch (*p) {

        case '{':
        case '[':
            if (depth == NGX_HTTP_LLM_JSON_MAX_DEPTH) {
                return NGX_DECLINED;
            }

            stack[depth] = *p;
            starts[depth] = p;
            depth++;
            p++;

            ngx_http_llm_ws();

            if (p < last && *p == ngx_http_llm_closing(stack[depth - 1])) {
                p++;
                depth--;
                break;
            }

            want_key = (stack[depth - 1] == '{');
            continue;

        case '"':
            escaped = 0;
            q = ngx_http_llm_json_skip_string(p + 1, last, &escaped);

            if (q == NULL) {
                return NGX_DECLINED;
            }

            p = q + 1;
            break;

        default:
            p = ngx_http_llm_json_primitive(p, last);

            if (p == NULL) {
                return NGX_DECLINED;
            }
        }

        /* a value ended at p, maybe closing containers after it */

        for ( ;; ) {

            if (depth == 1 && stack[0] == '{' && key) {
                if (count < max) {
                    m = &members[count];
                    m->key.data = key;
                    m->key.len = key_end - key;
                    m->start = vstart;
                    m->end = p;
                    m->escaped = key_esc;

                    switch (*vstart) {
                    case '{': m->type = NGX_HTTP_LLM_JSON_OBJECT; break;
                    case '[': m->type = NGX_HTTP_LLM_JSON_ARRAY; break;
                    case '"': m->type = NGX_HTTP_LLM_JSON_STRING; break;
                    default:  m->type = NGX_HTTP_LLM_JSON_PRIMITIVE;
                    }
                }

                count++;
                key = NULL;
            }

            ngx_http_llm_ws();

            if (depth == 0) {
                if (p != last) {
                    return NGX_DECLINED;
                }

                *n = count;
                return NGX_OK;
            }

            if (p == last) {
                return NGX_DECLINED;
            }

            if (*p == ',') {
                p++;
                want_key = (stack[depth - 1] == '{');
                break;
            }

            if (*p != ngx_http_llm_closing(stack[depth - 1])) {
                return NGX_DECLINED;
            }

            p++;
            depth--;
            vstart = starts[depth];
        }
    }

#undef ngx_http_llm_ws
#undef ngx_http_llm_closing
}


ngx_int_t
ngx_http_llm_json_is_object(u_char *p, size_t n)
{
    u_char      *q, *last;
    ngx_uint_t   members;

    if (n == 0) {
        return 0;       /* and p may be NULL: no NULL + 0 */
    }

    last = p + n;

    for (q = p; q < last; q++) {
        if (*q != ' ' && *q != '\t' && *q != CR && *q != LF) {
            break;
        }
    }

    return q < last && *q == '{'
           && ngx_http_llm_json_scan(p, last, NULL, 0, &members) == NGX_OK;
}


ngx_int_t
ngx_http_llm_json_error_object(u_char *p, size_t n)
{
    u_char                      *last;
    ngx_uint_t                   i, nm;
    ngx_http_llm_json_member_t   m[32];

    last = p + n;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    if (p == last || *p != '{'
        || ngx_http_llm_json_scan(p, last, m, 32, &nm) != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < ngx_min(nm, 32); i++) {

        /* {"error":{...}} or {"error":"..."}: OpenAI, vLLM, Gemini */

        if (m[i].key.len == sizeof("error") - 1
            && ngx_memcmp(m[i].key.data, "error", m[i].key.len) == 0
            && (m[i].type == NGX_HTTP_LLM_JSON_OBJECT
                || m[i].type == NGX_HTTP_LLM_JSON_STRING))
        {
            return NGX_DECLINED;
        }

        /* {"type":"error","error":{...}}: Anthropic */

        if (m[i].key.len == sizeof("type") - 1
            && ngx_memcmp(m[i].key.data, "type", m[i].key.len) == 0
            && m[i].end - m[i].start == sizeof("\"error\"") - 1
            && ngx_memcmp(m[i].start, "\"error\"", m[i].end - m[i].start)
               == 0)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


u_char *
ngx_http_llm_memmem(u_char *p, u_char *last, const char *s, size_t n)
{
    /* glibc's and the BSDs' memmem() is a two-way search, vectorized */

    return memmem(p, last - p, s, n);
}


/*
 * How many bytes at s ngx_escape_json() copies as they are: up to the
 * first '"', '\\' or control character; 16 at a time with SSE2.  The
 * writers copy that run and leave only the rest to ngx_escape_json(),
 * one byte at a time: the same output, mostly one memcpy().
 */

size_t
ngx_http_llm_json_plain(u_char *s, size_t n)
{
    u_char      *p, *last;
#if (NGX_HTTP_LLM_JSON_SSE2)
    ngx_uint_t   k;
#endif

#if (NGX_HTTP_LLM_JSON_SSE2)
    int       mask;
    __m128i   v, m;
    __m128i   quote = _mm_set1_epi8('"');
    __m128i   bslash = _mm_set1_epi8('\\');
    __m128i   ctl = _mm_set1_epi8(0x1f);
#endif

    p = s;
    last = s + n;

#if (NGX_HTTP_LLM_JSON_SSE2)

    for (k = 0; last - p >= 16; k++) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
        mask = _mm_movemask_epi8(m);

        if (mask) {
            return p + __builtin_ctz((unsigned int) mask) - s;
        }

        p += 16;

#if (NGX_HTTP_LLM_JSON_AVX2)
        /* a long run: 32 bytes a step (up to a byte >= 0x80 too) */

        if (k == 3 && ngx_http_llm_json_use_avx2(p, last)) {
            p = ngx_http_llm_json_run_avx2(p, last);
        }
#endif
    }
#endif

    while (p < last && *p > 0x1f && *p != '"' && *p != '\\') {
        p++;
    }

    return p - s;
}


size_t
ngx_http_llm_json_escape_len(u_char *s, size_t n)
{
    size_t  k;

    if (n == 0) {
        return 0;       /* and s may be NULL: no NULL + 0 */
    }

    k = ngx_http_llm_json_plain(s, n);

    if (k == n) {
        return n;
    }

    return n + ngx_escape_json(NULL, s + k, n - k);
}


u_char *
ngx_http_llm_json_escape(u_char *dst, u_char *s, size_t n)
{
    size_t  k;

    if (n == 0) {
        return dst;
    }

    k = ngx_http_llm_json_plain(s, n);

    dst = ngx_cpymem(dst, s, k);

    if (k == n) {
        return dst;
    }

    return (u_char *) ngx_escape_json(dst, s + k, n - k);
}


/*
 * The request tokenized with jsmn, on first use (translation, the Groq
 * quirk): NGX_OK, NGX_ABORT (too many elements), NGX_ERROR.
 */

ngx_int_t
ngx_http_llm_request_json(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_json_t **jsp)
{
    ngx_int_t             rc;
    ngx_http_llm_json_t  *js;

    if (ctx->json) {
        *jsp = ctx->json;
        return NGX_OK;
    }

    js = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_json_t));
    if (js == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llm_json_parse(r->pool, js, ctx->body.data, ctx->body.len,
                                 NGX_HTTP_LLM_JSON_MAX_TOKENS);

    if (rc == NGX_ERROR || rc == NGX_ABORT) {
        return rc;
    }

    if (rc != NGX_OK) {
        /* the scan accepted it: jsmn disagrees only on limits */
        return NGX_ABORT;
    }

    ctx->json = js;
    *jsp = js;

    return NGX_OK;
}
