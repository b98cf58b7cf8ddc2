
/*
 * Copyright (C) ngx_http_llm_module authors
 */


/*
 * src/ngx_http_llm_sigv4.c against AWS's published SigV4 test suite
 * (t/unit/sigv4/NAME/, data only, see its README.md), outside nginx.
 *
 *   sigv4_vectors DIR...   each DIR one case: request.txt is parsed here
 *                          (headers lowercased, trimmed, duplicates
 *                          joined, sorted: the caller's part of the
 *                          contract); the query, the path encoding, the
 *                          canonical request, the string to sign and the
 *                          signature are the module's.  Prints "ok NAME"
 *                          or "not ok NAME: what" with both sides.
 *
 *   sigv4_vectors query QUERY
 *                          prints the canonical query string of QUERY.
 *
 *   sigv4_vectors bedrock KEY HOST REGION PATH DATE BODY
 *                          ngx_http_llm_sigv4_sign_key(), as the Bedrock
 *                          adapter calls it: prints the canonical
 *                          request, the string to sign, the
 *                          Authorization and the token, for
 *                          t/151-sigv4-vectors.t to check against its own
 *                          computation (Digest::SHA).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_llm_sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>


#define UNIT_MAX_HEADERS  32


static ngx_pool_t  unit_pool;


u_char *unit_read_file(const char *path, size_t *len);   /* shim.c */


static ngx_str_t
unit_read(const char *dir, const char *name)
{
    char       path[1024];
    ngx_str_t  s;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    s.len = 0;
    s.data = unit_read_file(path, &s.len);

    return s;
}


/* "key": "value" of context.json, or "key": true */

static ngx_str_t
unit_context(ngx_str_t *ctx, const char *key)
{
    char       pat[64];
    u_char    *p, *q;
    ngx_str_t  v;

    v.len = 0;
    v.data = (u_char *) "";

    snprintf(pat, sizeof(pat), "\"%s\":", key);

    p = (u_char *) strstr((char *) ctx->data, pat);
    if (p == NULL) {
        return v;
    }

    p += strlen(pat);

    while (*p == ' ') {
        p++;
    }

    if (*p == '"') {
        q = (u_char *) strchr((char *) p + 1, '"');
        v.data = p + 1;
        v.len = q - p - 1;

    } else {
        q = p;
        while (*q >= 'a' && *q <= 'z') {
            q++;
        }

        v.data = p;
        v.len = q - p;
    }

    return v;
}


static int
unit_header_cmp(const void *one, const void *two)
{
    const ngx_keyval_t  *a = one, *b = two;
    size_t               n;
    int                  rc;

    n = ngx_min(a->key.len, b->key.len);
    rc = memcmp(a->key.data, b->key.data, n);

    if (rc) {
        return rc;
    }

    return (int) a->key.len - (int) b->key.len;
}


/* a header value trimmed, runs of spaces made one */

static ngx_str_t
unit_trim(u_char *p, u_char *last)
{
    u_char     *d;
    ngx_str_t   v;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    v.data = malloc(last - p + 1);
    d = v.data;

    while (p < last) {
        if (*p == ' ' && d > v.data && d[-1] == ' ') {
            p++;
            continue;
        }

        *d++ = *p++;
    }

    v.len = d - v.data;

    return v;
}


static void
unit_add(ngx_keyval_t *h, ngx_uint_t *n, const char *name, ngx_str_t *value)
{
    ngx_uint_t  i;
    ngx_str_t   v;

    for (i = 0; i < *n; i++) {
        if (h[i].key.len == strlen(name)
            && memcmp(h[i].key.data, name, h[i].key.len) == 0)
        {
            /* a repeated header: the values joined by commas, in order */
            v.len = h[i].value.len + 1 + value->len;
            v.data = malloc(v.len);
            memcpy(v.data, h[i].value.data, h[i].value.len);
            v.data[h[i].value.len] = ',';
            memcpy(v.data + h[i].value.len + 1, value->data, value->len);
            h[i].value = v;
            return;
        }
    }

    h[*n].key.data = (u_char *) strdup(name);
    h[*n].key.len = strlen(name);
    h[*n].value = *value;
    (*n)++;
}


static ngx_uint_t
unit_same(const char *name, const char *what, ngx_str_t *got,
    ngx_str_t *expected)
{
    size_t  n;

    n = expected->len;

    /* the files have no newline at the end, some tools add one */
    while (n && (expected->data[n - 1] == '\n'
                 || expected->data[n - 1] == '\r'))
    {
        n--;
    }

    if (got->len == n && memcmp(got->data, expected->data, n) == 0) {
        return 1;
    }

    printf("not ok %s: %s\n--- expected\n%.*s\n--- got\n%.*s\n---\n",
           name, what, (int) n, expected->data, (int) got->len, got->data);

    return 0;
}


static ngx_uint_t
unit_case(const char *dir)
{
    char                  name[128];
    u_char               *p, *line, *eol, *colon, *sp, *q, *last;
    u_char                date[17], hex[2 * 32 + 1], md[EVP_MAX_MD_SIZE];
    unsigned int          mdlen;
    const char           *base;
    ngx_str_t             ctx, req, creq, sts, sig, token, v, auth, query;
    ngx_str_t             raw_query, body, got;
    ngx_uint_t            n, i, ok;
    ngx_keyval_t          hdrs[UNIT_MAX_HEADERS];
    ngx_http_llm_sigv4_t  s;

    snprintf(name, sizeof(name), "%s", dir);

    while (strlen(name) > 1 && name[strlen(name) - 1] == '/') {
        name[strlen(name) - 1] = '\0';
    }

    base = strrchr(name, '/');
    if (base) {
        memmove(name, base + 1, strlen(base));
    }

    ctx = unit_read(dir, "context.json");
    req = unit_read(dir, "request.txt");
    creq = unit_read(dir, "header-canonical-request.txt");
    sts = unit_read(dir, "header-string-to-sign.txt");
    sig = unit_read(dir, "header-signature.txt");

    if (ctx.data == NULL || req.data == NULL || creq.data == NULL
        || sts.data == NULL || sig.data == NULL)
    {
        printf("not ok %s: cannot read the case's files\n", name);
        return 0;
    }

    ngx_memzero(&s, sizeof(ngx_http_llm_sigv4_t));

    /* the request line: METHOD SP target SP HTTP/1.1 */

    p = req.data;
    last = req.data + req.len;
    eol = (u_char *) strchr((char *) p, '\n');
    sp = (u_char *) memchr(p, ' ', eol - p);
    q = eol;

    while (q > sp && *q != ' ') {
        q--;
    }

    s.method.data = p;
    s.method.len = sp - p;

    s.path.data = sp + 1;
    s.path.len = q - (sp + 1);
    raw_query.len = 0;
    raw_query.data = NULL;

    p = memchr(s.path.data, '?', s.path.len);
    if (p) {
        raw_query.data = p + 1;
        raw_query.len = s.path.data + s.path.len - (p + 1);
        s.path.len = p - s.path.data;
    }

    /* the headers, up to an empty line; the body after it */

    n = 0;
    line = eol + 1;
    body.len = 0;
    body.data = (u_char *) "";

    while (line < last) {
        eol = (u_char *) memchr(line, '\n', last - line);
        if (eol == NULL) {
            eol = last;
        }

        if (eol == line) {
            body.data = eol + 1;
            body.len = last - body.data;
            break;
        }

        colon = memchr(line, ':', eol - line);
        if (colon == NULL || n == UNIT_MAX_HEADERS - 4) {
            printf("not ok %s: a header line the harness cannot read\n",
                   name);
            return 0;
        }

        for (q = line; q < colon; q++) {
            *q = ngx_tolower(*q);
        }

        *colon = '\0';
        v = unit_trim(colon + 1, eol);
        unit_add(hdrs, &n, (char *) line, &v);

        line = eol + 1;
    }

    ngx_memcpy(date, "20150830T123600Z", 17);
    v.data = date;
    v.len = 16;
    unit_add(hdrs, &n, "x-amz-date", &v);

    token = unit_context(&ctx, "token");
    v = unit_context(&ctx, "omit_session_token");

    if (token.len && !(v.len == 4 && memcmp(v.data, "true", 4) == 0)) {
        unit_add(hdrs, &n, "x-amz-security-token", &token);
    }

    v = unit_context(&ctx, "sign_body");

    if (v.len == 4 && memcmp(v.data, "true", 4) == 0) {
        EVP_Digest(body.data, body.len, md, &mdlen, EVP_sha256(), NULL);
        ngx_hex_dump(hex, md, 32);
        v.data = hex;
        v.len = 64;
        unit_add(hdrs, &n, "x-amz-content-sha256", &v);
    }

    qsort(hdrs, n, sizeof(ngx_keyval_t), unit_header_cmp);

    if (ngx_http_llm_sigv4_query(&unit_pool, &raw_query, &query) != NGX_OK) {
        printf("not ok %s: the query\n", name);
        return 0;
    }

    s.query = query;
    s.headers = hdrs;
    s.nheaders = n;
    s.payload = body;
    s.access_key = unit_context(&ctx, "access_key_id");
    s.secret_key = unit_context(&ctx, "secret_access_key");
    s.region = unit_context(&ctx, "region");
    s.service = unit_context(&ctx, "service");
    s.amz_date.data = date;
    s.amz_date.len = 16;

    if (ngx_http_llm_sigv4_authorization(&unit_pool, &s, &auth) != NGX_OK) {
        printf("not ok %s: ngx_http_llm_sigv4_authorization() failed\n",
               name);
        return 0;
    }

    ok = unit_same(name, "canonical request", &s.canonical_request, &creq)
         && unit_same(name, "string to sign", &s.string_to_sign, &sts);

    /* the signature: the last 64 bytes of the Authorization value */

    if (ok) {
        got.data = auth.data + auth.len - 64;
        got.len = 64;
        ok = unit_same(name, "signature", &got, &sig);
    }

    if (ok) {
        /* the whole header value, as the suite's signed request has it */
        for (i = 0; i < auth.len; i++) {
            if (auth.data[i] == ' ') {
                break;
            }
        }

        if (auth.len < sizeof("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
                              "20150830/us-east-1/service/aws4_request, "
                              "SignedHeaders=") - 1
            || ngx_strncmp(auth.data, "AWS4-HMAC-SHA256 Credential="
                           "AKIDEXAMPLE/20150830/us-east-1/service/"
                           "aws4_request, SignedHeaders=",
                           sizeof("AWS4-HMAC-SHA256 Credential="
                                  "AKIDEXAMPLE/20150830/us-east-1/service/"
                                  "aws4_request, SignedHeaders=") - 1)
               != 0)
        {
            printf("not ok %s: Authorization %.*s\n", name,
                   (int) auth.len, auth.data);
            ok = 0;
        }
    }

    if (ok) {
        printf("ok %s\n", name);
    }

    return ok;
}


static int
unit_bedrock(char **argv)
{
    ngx_str_t             key, host, region, path, body;
    ngx_http_llm_sigv4_t  s;

    key.data = (u_char *) argv[0];
    key.len = strlen(argv[0]);
    host.data = (u_char *) argv[1];
    host.len = strlen(argv[1]);
    region.data = (u_char *) argv[2];
    region.len = strlen(argv[2]);
    path.data = (u_char *) argv[3];
    path.len = strlen(argv[3]);
    body.data = (u_char *) argv[5];
    body.len = strlen(argv[5]);

    if (strlen(argv[4]) != 16
        || ngx_http_llm_sigv4_sign_key(&unit_pool, &s, &key, &host, &region,
                                       &path, &body, (u_char *) argv[4])
           != NGX_OK)
    {
        printf("sign_key failed\n");
        return 1;
    }

    printf("%.*s\n--\n%.*s\n--\n%.*s\n--\n%.*s\n",
           (int) s.canonical_request.len, s.canonical_request.data,
           (int) s.string_to_sign.len, s.string_to_sign.data,
           (int) s.authorization.len, s.authorization.data,
           (int) s.token.len, s.token.data);

    return 0;
}


int
main(int argc, char **argv)
{
    int         i;
    ngx_uint_t  failed;

    if (argc == 8 && strcmp(argv[1], "bedrock") == 0) {
        return unit_bedrock(argv + 2);
    }

    if (argc == 3 && strcmp(argv[1], "query") == 0) {
        ngx_str_t  q, out;

        q.data = (u_char *) argv[2];
        q.len = strlen(argv[2]);

        if (ngx_http_llm_sigv4_query(&unit_pool, &q, &out) != NGX_OK) {
            return 1;
        }

        printf("%.*s\n", (int) out.len, out.data);
        return 0;
    }

    failed = 0;

    for (i = 1; i < argc; i++) {
        if (!unit_case(argv[i])) {
            failed++;
        }
    }

    printf("%d cases, %lu failed\n", argc - 1, (unsigned long) failed);

    return failed ? 1 : 0;
}
