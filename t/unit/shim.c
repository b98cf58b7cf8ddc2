
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * The few nginx core functions the module's pure parts (SSE parser, JSON
 * wrapper) call, for unit tests and fuzzers built outside nginx: the pool
 * is plain malloc, the log goes to stderr.
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    return malloc(size ? size : 1);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return malloc(size ? size : 1);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    return calloc(1, size ? size : 1);
}


ngx_int_t
ngx_pfree(ngx_pool_t *pool, void *p)
{
    free(p);
    return NGX_OK;
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    if (getenv("LLM_UNIT_VERBOSE")) {
        va_list  args;

        va_start(args, fmt);
        vfprintf(stderr, fmt, args);
        va_end(args);
        fputc('\n', stderr);
    }
}


uintptr_t
ngx_escape_json(u_char *dst, u_char *src, size_t size)
{
    u_char      ch;
    ngx_uint_t  len;

    static u_char  hex[] = "0123456789abcdef";

    if (dst == NULL) {
        len = 0;

        while (size) {
            ch = *src++;

            if (ch == '\\' || ch == '"') {
                len++;

            } else if (ch <= 0x1f) {
                switch (ch) {
                case '\n': case '\r': case '\t': case '\b': case '\f':
                    len++;
                    break;
                default:
                    len += sizeof("\\u001F") - 2;
                }
            }

            size--;
        }

        return (uintptr_t) len;
    }

    while (size) {
        ch = *src++;

        if (ch > 0x1f) {
            if (ch == '\\' || ch == '"') {
                *dst++ = '\\';
            }

            *dst++ = ch;

        } else {
            *dst++ = '\\';

            switch (ch) {
            case '\n': *dst++ = 'n'; break;
            case '\r': *dst++ = 'r'; break;
            case '\t': *dst++ = 't'; break;
            case '\b': *dst++ = 'b'; break;
            case '\f': *dst++ = 'f'; break;
            default:
                *dst++ = 'u'; *dst++ = '0'; *dst++ = '0';
                *dst++ = '0' + (ch >> 4);
                *dst++ = hex[ch & 0xf];
            }
        }

        size--;
    }

    return (uintptr_t) dst;
}


u_char *
ngx_strlcasestrn(u_char *s1, u_char *last, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    c2 = (ngx_uint_t) *s2++;
    c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;
    last -= n;

    do {
        do {
            if (s1 >= last) {
                return NULL;
            }

            c1 = (ngx_uint_t) *s1++;
            c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;

        } while (c1 != c2);

    } while (ngx_strncasecmp(s1, s2, n) != 0);

    return --s1;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    while (n) {
        c1 = (ngx_uint_t) *s1++;
        c2 = (ngx_uint_t) *s2++;

        c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;
        c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;

        if (c1 == c2) {
            if (c1) {
                n--;
                continue;
            }

            return 0;
        }

        return c1 - c2;
    }

    return 0;
}


/*
 * URI escaping for the harnesses: every byte outside RFC 3986's
 * unreserved set is escaped, whatever the type (nginx's own tables are
 * finer; the harnesses only need a valid escape).
 */

uintptr_t
ngx_escape_uri(u_char *dst, u_char *src, size_t size, ngx_uint_t type)
{
    u_char      ch;
    ngx_uint_t  n;

    static u_char  hex[] = "0123456789ABCDEF";

    n = 0;

    while (size--) {
        ch = *src++;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'
            || ch == '_' || ch == '~')
        {
            if (dst) {
                *dst++ = ch;
            }

            continue;
        }

        if (dst) {
            *dst++ = '%';
            *dst++ = hex[ch >> 4];
            *dst++ = hex[ch & 0xf];

        } else {
            n++;
        }
    }

    return dst ? (uintptr_t) dst : (uintptr_t) n;
}


/* SigV4 (src/ngx_http_llm_sigv4.c): hex, zeroing, the time of a date */

__attribute__((weak)) u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static u_char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


__attribute__((weak)) void
ngx_explicit_memzero(void *buf, size_t n)
{
    volatile u_char  *p = buf;

    while (n--) {
        *p++ = 0;
    }
}


__attribute__((weak)) void
ngx_gmtime(time_t t, ngx_tm_t *tp)
{
    struct tm  tm;

    gmtime_r(&t, &tm);

    tp->ngx_tm_sec = tm.tm_sec;
    tp->ngx_tm_min = tm.tm_min;
    tp->ngx_tm_hour = tm.tm_hour;
    tp->ngx_tm_mday = tm.tm_mday;
    tp->ngx_tm_mon = tm.tm_mon + 1;
    tp->ngx_tm_year = tm.tm_year + 1900;
    tp->ngx_tm_wday = tm.tm_wday;
}


/* embeddings' base64 form (src/ngx_http_llm_embeddings.c) */

__attribute__((weak)) void
ngx_encode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    u_char      *d, *s;
    size_t       len;

    static u_char  b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    len = src->len;
    s = src->data;
    d = dst->data;

    while (len > 2) {
        *d++ = b64[(s[0] >> 2) & 0x3f];
        *d++ = b64[((s[0] & 3) << 4) | (s[1] >> 4)];
        *d++ = b64[((s[1] & 0x0f) << 2) | (s[2] >> 6)];
        *d++ = b64[s[2] & 0x3f];

        s += 3;
        len -= 3;
    }

    if (len) {
        *d++ = b64[(s[0] >> 2) & 0x3f];

        if (len == 1) {
            *d++ = b64[(s[0] & 3) << 4];
            *d++ = '=';

        } else {
            *d++ = b64[((s[0] & 3) << 4) | (s[1] >> 4)];
            *d++ = b64[(s[1] & 0x0f) << 2];
        }

        *d++ = '=';
    }

    dst->len = d - dst->data;
}


/* a whole file in malloc'd memory, NUL-terminated: for the harnesses */

u_char *
unit_read_file(const char *path, size_t *len)
{
    long     n;
    FILE    *f;
    u_char  *p;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc(n + 1);

    if (p == NULL || n < 0 || fread(p, 1, n, f) != (size_t) n) {
        fclose(f);
        free(p);
        return NULL;
    }

    fclose(f);

    p[n] = '\0';
    *len = n;

    return p;
}
