
/*
 * Copyright (C) ngx_http_llm_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_llm_module.h"
#include "ngx_http_llm_keys.h"
#include "ngx_http_llm_limit.h"
#include "ngx_http_llm_error.h"
#include "ngx_http_llm_shm.h"

#include <openssl/sha.h>
#include <openssl/crypto.h>


#define NGX_HTTP_LLM_KEY_MIN          16
#define NGX_HTTP_LLM_KEY_MAX          1024
#define NGX_HTTP_LLM_NAME_MAX         128
#define NGX_HTTP_LLM_KEYS_FILE_MAX    (16 * 1024 * 1024)
#define NGX_HTTP_LLM_KEYS_WORDS       64

#define NGX_HTTP_LLM_RESERVE_TOKENS   4096

#define ngx_http_llm_keys_prefix(v, s)                                        \
    ((v)->len >= sizeof(s) - 1                                                \
     && ngx_strncmp((v)->data, s, sizeof(s) - 1) == 0)


static ngx_http_llm_keys_t *ngx_http_llm_keys_create(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *llcf);
static char *ngx_http_llm_keys_read(ngx_conf_t *cf, ngx_http_llm_keys_t *keys,
    ngx_str_t *name);
static char *ngx_http_llm_keys_line(ngx_conf_t *cf, ngx_http_llm_keys_t *keys,
    ngx_str_t *words, ngx_uint_t n);
static char *ngx_http_llm_keys_error(ngx_conf_t *cf, const char *fmt,
    ngx_str_t *value);
static ngx_int_t ngx_http_llm_keys_name(ngx_str_t *value);
static ngx_int_t ngx_http_llm_keys_hex(u_char *dst, ngx_str_t *hex);
static char *ngx_http_llm_keys_models(ngx_conf_t *cf, ngx_http_llm_key_t *key,
    ngx_str_t *value);
static ngx_int_t ngx_http_llm_keys_expires(ngx_str_t *value, time_t *t);
static ngx_int_t ngx_http_llm_keys_init(ngx_conf_t *cf,
    ngx_http_llm_keys_t *keys);
static int ngx_libc_cdecl ngx_http_llm_keys_cmp_digest(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_llm_keys_cmp_name(const void *one,
    const void *two);
static ngx_int_t ngx_http_llm_keys_credential(ngx_str_t *value,
    ngx_str_t *cred, ngx_uint_t *n, ngx_uint_t *bad);
static ngx_int_t ngx_http_llm_keys_unauthorized(ngx_http_request_t *r,
    ngx_uint_t missing);


/*
 * The location the directives are about: "conf" of llm_keys and llm_key
 * is the loc conf of the level they are written at.
 */

char *
ngx_http_llm_keys_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    ngx_str_t            *value;
    ngx_http_llm_keys_t  *keys;

    value = cf->args->elts;

    keys = ngx_http_llm_keys_create(cf, llcf);
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_llm_keys_read(cf, keys, &value[1]);
}


char *
ngx_http_llm_key_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *llcf = conf;

    char                 *msg;
    ngx_str_t            *value;
    ngx_uint_t            i;
    ngx_http_llm_keys_t  *keys;

    value = cf->args->elts;

    keys = ngx_http_llm_keys_create(cf, llcf);
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    msg = ngx_http_llm_keys_line(cf, keys, &value[1], cf->args->nelts - 1);

    /* the secret stays in nginx's memory as its digest only */

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len > 4 && ngx_strncmp(value[i].data, "key=", 4) == 0) {
            ngx_explicit_memzero(value[i].data + 4, value[i].len - 4);
        }
    }

    if (msg != NGX_CONF_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", msg);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_http_llm_keys_t *
ngx_http_llm_keys_create(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *llcf)
{
    ngx_http_llm_keys_t  *keys;

    if (llcf->keys) {
        return llcf->keys;
    }

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_keys_t));
    if (keys == NULL) {
        return NULL;
    }

    if (ngx_array_init(&keys->keys, cf->pool, 8, sizeof(ngx_http_llm_key_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&keys->teams, cf->pool, 2,
                       sizeof(ngx_http_llm_team_t))
        != NGX_OK)
    {
        return NULL;
    }

    llcf->keys = keys;

    return keys;
}


/*
 * A keys file: one key (or team) a line, the parameters of llm_key
 * separated by spaces or tabs, "#" starting a comment.  Read by the
 * master at every (re)load, never dumped by "nginx -T"; the buffer is
 * wiped once the digests are taken.
 */

static char *
ngx_http_llm_keys_read(ngx_conf_t *cf, ngx_http_llm_keys_t *keys,
    ngx_str_t *name)
{
    char             *rv, *msg;
    u_char           *buf, *p, *last, *start;
    off_t             size;
    ssize_t           n;
    ngx_str_t         file, words[NGX_HTTP_LLM_KEYS_WORDS];
    ngx_uint_t        line, nwords;
    ngx_file_t        f;
    ngx_file_info_t   fi;

    file = *name;

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));

    f.name = file;
    f.log = cf->log;

    f.fd = ngx_open_file(file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", file.data);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    size = 0;
    rv = NGX_CONF_ERROR;

    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", file.data);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size > NGX_HTTP_LLM_KEYS_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keys file \"%s\" is too large", file.data);
        goto done;
    }

    buf = ngx_pnalloc(cf->temp_pool, (size_t) size + 1);
    if (buf == NULL) {
        goto done;
    }

    buf[size] = '\0';

    n = ngx_read_file(&f, buf, (size_t) size, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    if (n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%s\" returned only "
                           "%z bytes instead of %O", file.data, n, size);
        goto done;
    }

    p = buf;
    last = buf + size;
    line = 0;

    while (p < last) {
        line++;
        nwords = 0;

        while (p < last && *p != LF) {

            if (*p == ' ' || *p == '\t' || *p == CR) {
                p++;
                continue;
            }

            if (*p == '#') {
                while (p < last && *p != LF) {
                    p++;
                }

                break;
            }

            start = p;

            while (p < last && *p != LF && *p != ' ' && *p != '\t'
                   && *p != CR)
            {
                p++;
            }

            if (nwords == NGX_HTTP_LLM_KEYS_WORDS) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "too many parameters in keys file "
                                   "\"%s\" line %ui", file.data, line);
                goto done;
            }

            words[nwords].data = start;
            words[nwords].len = p - start;
            nwords++;
        }

        if (p < last) {
            p++;                                         /* LF */
        }

        if (nwords == 0) {
            continue;
        }

        msg = ngx_http_llm_keys_line(cf, keys, words, nwords);

        if (msg != NGX_CONF_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in keys file \"%s\" line %ui",
                               msg, file.data, line);
            goto done;
        }
    }

    rv = NGX_CONF_OK;

done:

    if (buf) {
        ngx_explicit_memzero(buf, (size_t) size);
    }

    if (ngx_close_file(f.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", file.data);
    }

    return rv;
}


/*
 * One key or team from its parameters; a message (never quoting a
 * secret) on error.
 */

static char *
ngx_http_llm_keys_line(ngx_conf_t *cf, ngx_http_llm_keys_t *keys,
    ngx_str_t *words, ngx_uint_t n)
{
    char                 *msg;
    u_char               *p;
    ngx_int_t             rc;
    ngx_str_t             v, name;
    ngx_uint_t            i, secret, flags;
    ngx_http_llm_key_t    key, *k;
    ngx_http_llm_team_t  *team;

    ngx_memzero(&key, sizeof(ngx_http_llm_key_t));

    secret = 0;
    flags = 0;                     /* models=, expires=, revoked: key only */

    for (i = 0; i < n; i++) {
        v = words[i];

        if (ngx_http_llm_keys_prefix(&v, "key=")) {
            if (secret++) {
                return "more than one \"key=\" or \"sha256=\"";
            }

            v.data += 4;
            v.len -= 4;

            if (v.len < NGX_HTTP_LLM_KEY_MIN || v.len > NGX_HTTP_LLM_KEY_MAX)
            {
                return "\"key=\" must be 16 to 1024 characters long";
            }

            for (p = v.data; p < v.data + v.len; p++) {
                if (*p <= 0x20 || *p >= 0x7f) {
                    return "\"key=\" must be printable ASCII without spaces";
                }
            }

            SHA256(v.data, v.len, key.digest);

            continue;
        }

        if (ngx_http_llm_keys_prefix(&v, "sha256=")) {
            if (secret++) {
                return "more than one \"key=\" or \"sha256=\"";
            }

            v.data += 7;
            v.len -= 7;

            if (ngx_http_llm_keys_hex(key.digest, &v) != NGX_OK) {
                return "\"sha256=\" must be 64 hexadecimal digits";
            }

            continue;
        }

        if (ngx_http_llm_keys_prefix(&v, "name=")) {
            v.data += 5;
            v.len -= 5;

            if (key.name.len || ngx_http_llm_keys_name(&v) != NGX_OK) {
                return ngx_http_llm_keys_error(cf, "invalid name \"%V\"",
                                               &words[i]);
            }

            key.name = v;
            continue;
        }

        if (ngx_http_llm_keys_prefix(&v, "team=")) {
            v.data += 5;
            v.len -= 5;

            if (key.team_name.len || ngx_http_llm_keys_name(&v) != NGX_OK) {
                return ngx_http_llm_keys_error(cf, "invalid team \"%V\"",
                                               &words[i]);
            }

            key.team_name = v;
            continue;
        }

        if (ngx_http_llm_keys_prefix(&v, "models=")) {
            v.data += 7;
            v.len -= 7;

            msg = ngx_http_llm_keys_models(cf, &key, &v);

            if (msg != NGX_CONF_OK) {
                return msg;
            }

            flags++;
            continue;
        }

        if (ngx_http_llm_keys_prefix(&v, "expires=")) {
            v.data += 8;
            v.len -= 8;

            if (ngx_http_llm_keys_expires(&v, &key.expires) != NGX_OK) {
                return ngx_http_llm_keys_error(cf, "invalid date \"%V\", "
                                               "expected YYYY-MM-DD or "
                                               "YYYY-MM-DDThh:mm[:ss]Z",
                                               &words[i]);
            }

            flags++;
            continue;
        }

        if (v.len == 7 && ngx_strncmp(v.data, "revoked", 7) == 0) {
            key.revoked = 1;
            flags++;
            continue;
        }

        rc = ngx_http_llm_limit_param(&v, &key.limits);

        if (rc == NGX_DECLINED) {
            rc = ngx_http_llm_limit_model_param(cf->pool, &v,
                                                &key.model_limits);
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            return ngx_http_llm_keys_error(cf, "invalid value \"%V\"",
                                           &words[i]);
        }

        /* the name only: a mistyped "key=" must not be echoed */

        name = v;
        p = ngx_strlchr(v.data, v.data + v.len, '=');

        if (p) {
            name.len = p - v.data + 1;
        }

        if (name.len > 32) {
            name.len = 32;
        }

        return ngx_http_llm_keys_error(cf, "invalid parameter \"%V\"",
                                       &name);
    }

    if (!secret) {

        /* a team: its limits, shared by its keys */

        if (key.team_name.len == 0 || key.name.len || flags) {
            return "a key needs \"key=\" or \"sha256=\", a team line only "
                   "\"team=\" and limits";
        }

        team = keys->teams.elts;

        for (i = 0; i < keys->teams.nelts; i++) {
            if (team[i].name.len == key.team_name.len
                && ngx_strncmp(team[i].name.data, key.team_name.data,
                               key.team_name.len) == 0)
            {
                return ngx_http_llm_keys_error(cf, "duplicate team \"%V\"",
                                               &key.team_name);
            }
        }

        team = ngx_array_push(&keys->teams);
        if (team == NULL) {
            return NGX_CONF_ERROR;
        }

        team->name.data = ngx_pstrdup(cf->pool, &key.team_name);
        if (team->name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        team->name.len = key.team_name.len;
        team->hash = ngx_http_llm_shm_hash(&team->name);
        team->limits = key.limits;
        team->model_limits = key.model_limits;

        if (ngx_http_llm_limits_set(&team->limits) || team->model_limits) {
            keys->limited++;
        }

        return NGX_CONF_OK;
    }

    if (key.name.len == 0) {
        return "a key needs \"name=\"";
    }

    k = ngx_array_push(&keys->keys);
    if (k == NULL) {
        return NGX_CONF_ERROR;
    }

    *k = key;

    /* words of a keys file live in a buffer that is wiped */

    k->name.data = ngx_pstrdup(cf->pool, &key.name);
    if (k->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    k->hash = ngx_http_llm_shm_hash(&k->name);

    if (key.team_name.len) {
        k->team_name.data = ngx_pstrdup(cf->pool, &key.team_name);
        if (k->team_name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        k->team_hash = ngx_http_llm_shm_hash(&k->team_name);
    }

    if (ngx_http_llm_limits_set(&k->limits) || k->model_limits) {
        keys->limited++;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_keys_error(ngx_conf_t *cf, const char *fmt, ngx_str_t *value)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(fmt) + value->len + 1;

    p = ngx_pnalloc(cf->temp_pool, len);
    if (p == NULL) {
        return "invalid parameter";
    }

    /* the end of what was written: "%V" itself is not copied */
    *ngx_snprintf(p, len - 1, fmt, value) = '\0';

    return (char *) p;
}


/* names go into logs, headers and JSON: a safe set of characters */

static ngx_int_t
ngx_http_llm_keys_name(ngx_str_t *value)
{
    u_char  *p, *last;

    if (value->len == 0 || value->len > NGX_HTTP_LLM_NAME_MAX) {
        return NGX_ERROR;
    }

    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9')
            || *p == '-' || *p == '_' || *p == '.' || *p == ':' || *p == '@'
            || *p == '/')
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_keys_hex(u_char *dst, ngx_str_t *hex)
{
    u_char      c, *p;
    ngx_uint_t  i, v;

    if (hex->len != 2 * NGX_HTTP_LLM_DIGEST_LEN) {
        return NGX_ERROR;
    }

    p = hex->data;

    for (i = 0; i < 2 * NGX_HTTP_LLM_DIGEST_LEN; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else {
            c |= 0x20;

            if (c < 'a' || c > 'f') {
                return NGX_ERROR;
            }

            v = c - 'a' + 10;
        }

        if (i % 2 == 0) {
            dst[i / 2] = (u_char) (v << 4);

        } else {
            dst[i / 2] |= (u_char) v;
        }
    }

    return NGX_OK;
}


/* "models=gpt-4o-mini,~^claude-,~*^gemini-": names and regexes */

static char *
ngx_http_llm_keys_models(ngx_conf_t *cf, ngx_http_llm_key_t *key,
    ngx_str_t *value)
{
    u_char                      *p, *last, *start;
    ngx_str_t                    item;
    ngx_regex_compile_t          rc;
    ngx_http_llm_model_match_t  *m;
    u_char                       errstr[NGX_MAX_CONF_ERRSTR];

    if (key->models) {
        return "duplicate \"models=\"";
    }

    key->models = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_http_llm_model_match_t));
    if (key->models == NULL) {
        return NGX_CONF_ERROR;
    }

    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        item.data = start;
        item.len = p - start;

        if (item.len == 0) {
            return ngx_http_llm_keys_error(cf, "invalid \"models=%V\"",
                                           value);
        }

        m = ngx_array_push(key->models);
        if (m == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(m, sizeof(ngx_http_llm_model_match_t));

        m->name.data = ngx_pstrdup(cf->pool, &item);
        if (m->name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        m->name.len = item.len;

        if (item.data[0] == '~') {
            ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

            rc.pattern.data = m->name.data + 1;
            rc.pattern.len = m->name.len - 1;

            if (rc.pattern.len && rc.pattern.data[0] == '*') {
                rc.pattern.data++;
                rc.pattern.len--;
                rc.options = NGX_REGEX_CASELESS;
            }

            rc.pool = cf->pool;
            rc.err.len = NGX_MAX_CONF_ERRSTR;
            rc.err.data = errstr;

            if (rc.pattern.len == 0) {
                return ngx_http_llm_keys_error(cf, "invalid \"models=%V\"",
                                               value);
            }

            if (ngx_regex_compile(&rc) != NGX_OK) {
                return ngx_http_llm_keys_error(cf, "%V", &rc.err);
            }

            m->regex = rc.regex;
        }

        if (p == last) {
            break;
        }

        p++;
    }

    return NGX_CONF_OK;
}


/* "2027-01-01", "2027-01-01T12:30", "2027-01-01T12:30:00Z": UTC */

static ngx_int_t
ngx_http_llm_keys_expires(ngx_str_t *value, time_t *t)
{
    u_char      *p, *last;
    ngx_int_t    year, month, day, hour, min, sec;
    static const ngx_uint_t  mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    p = value->data;
    last = p + value->len;

    if (last > p && last[-1] == 'Z') {
        last--;
    }

    if (last - p < 10 || p[4] != '-' || p[7] != '-') {
        return NGX_ERROR;
    }

    year = ngx_atoi(p, 4);
    month = ngx_atoi(p + 5, 2);
    day = ngx_atoi(p + 8, 2);
    hour = 0;
    min = 0;
    sec = 0;

    p += 10;

    if (p < last) {
        if (last - p < 6 || (*p != 'T' && *p != 't') || p[3] != ':') {
            return NGX_ERROR;
        }

        hour = ngx_atoi(p + 1, 2);
        min = ngx_atoi(p + 4, 2);
        p += 6;

        if (p < last) {
            if (last - p != 3 || *p != ':') {
                return NGX_ERROR;
            }

            sec = ngx_atoi(p + 1, 2);
        }
    }

    if (year < 1970 || year > 9999 || month < 1 || month > 12
        || day < 1 || day > (ngx_int_t) mdays[month - 1]
        || hour < 0 || hour > 23 || min < 0 || min > 59
        || sec < 0 || sec > 59)
    {
        return NGX_ERROR;
    }

    if (month == 2 && day == 29
        && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    {
        return NGX_ERROR;
    }

    *t = ngx_http_llm_utc_day(year, month, day) + hour * 3600 + min * 60
         + sec;

    return NGX_OK;
}


char *
ngx_http_llm_keys_merge(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *prev,
    ngx_http_llm_loc_conf_t *conf)
{
    ngx_http_llm_main_conf_t  *lmcf;

    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    ngx_conf_merge_value(conf->auth, prev->auth, NGX_CONF_UNSET);
    ngx_conf_merge_value(conf->reserve_tokens, prev->reserve_tokens,
                         NGX_HTTP_LLM_RESERVE_TOKENS);

    if (conf->keys && !conf->keys->ready) {
        if (ngx_http_llm_keys_init(cf, conf->keys) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (!conf->enabled) {
        return NGX_CONF_OK;
    }

    if (conf->auth == 1 && conf->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llm_auth\" is on but no \"llm_keys\" or "
                           "\"llm_key\" is defined for the location");
        return NGX_CONF_ERROR;
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_module);

    if (conf->keys && conf->keys->limited && lmcf->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keys with limits or budgets need an "
                           "\"llm_zone\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_keys_init(ngx_conf_t *cf, ngx_http_llm_keys_t *keys)
{
    ngx_uint_t            i, j, n;
    ngx_http_llm_key_t   *key, **sorted;
    ngx_http_llm_team_t  *team;

    keys->ready = 1;

    key = keys->keys.elts;
    team = keys->teams.elts;
    n = keys->keys.nelts;

    for (i = 0; i < n; i++) {
        if (key[i].team_name.len == 0) {
            continue;
        }

        for (j = 0; j < keys->teams.nelts; j++) {
            if (team[j].name.len == key[i].team_name.len
                && ngx_strncmp(team[j].name.data, key[i].team_name.data,
                               team[j].name.len) == 0)
            {
                key[i].team = &team[j];
                break;
            }
        }
    }

    keys->sorted = ngx_palloc(cf->pool, (n + 1) * sizeof(ngx_http_llm_key_t *));
    if (keys->sorted == NULL) {
        return NGX_ERROR;
    }

    sorted = ngx_palloc(cf->temp_pool, (n + 1) * sizeof(ngx_http_llm_key_t *));
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        keys->sorted[i] = &key[i];
        sorted[i] = &key[i];
    }

    ngx_qsort(keys->sorted, n, sizeof(ngx_http_llm_key_t *),
              ngx_http_llm_keys_cmp_digest);

    for (i = 1; i < n; i++) {
        if (ngx_http_llm_keys_cmp_digest(&keys->sorted[i - 1],
                                         &keys->sorted[i])
            == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "keys \"%V\" and \"%V\" are the same key",
                               &keys->sorted[i - 1]->name,
                               &keys->sorted[i]->name);
            return NGX_ERROR;
        }
    }

    ngx_qsort(sorted, n, sizeof(ngx_http_llm_key_t *),
              ngx_http_llm_keys_cmp_name);

    for (i = 1; i < n; i++) {
        if (ngx_http_llm_keys_cmp_name(&sorted[i - 1], &sorted[i]) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate key name \"%V\"", &sorted[i]->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Keys are ordered by the first 8 bytes of their digest only: the lookup
 * branches on those, and the whole digest is compared in constant time.
 */

static int ngx_libc_cdecl
ngx_http_llm_keys_cmp_digest(const void *one, const void *two)
{
    ngx_http_llm_key_t  *first, *second;

    first = *(ngx_http_llm_key_t **) one;
    second = *(ngx_http_llm_key_t **) two;

    return ngx_memcmp(first->digest, second->digest, 8);
}


static int ngx_libc_cdecl
ngx_http_llm_keys_cmp_name(const void *one, const void *two)
{
    ngx_http_llm_key_t  *first, *second;

    first = *(ngx_http_llm_key_t **) one;
    second = *(ngx_http_llm_key_t **) two;

    return ngx_memn2cmp(first->name.data, second->name.data,
                        first->name.len, second->name.len);
}


/*
 * The first 8 bytes of a digest as a number, for the lookup: the keys are
 * sorted by them (no two keys share them, see ngx_http_llm_keys_init()).
 */

static ngx_inline uint64_t
ngx_http_llm_keys_prefix64(u_char *d)
{
    return ((uint64_t) d[0] << 56) | ((uint64_t) d[1] << 48)
           | ((uint64_t) d[2] << 40) | ((uint64_t) d[3] << 32)
           | ((uint64_t) d[4] << 24) | ((uint64_t) d[5] << 16)
           | ((uint64_t) d[6] << 8) | (uint64_t) d[7];
}


/*
 * Timing: the SHA-256 of any credential of a given length takes the same
 * time; the search then takes as many steps for every digest (the number
 * of keys decides), without a branch on the digest, and ends with one
 * CRYPTO_memcmp() of the whole digest against the one candidate, for a
 * right key and a wrong one alike.  What a request's time could tell is
 * at most where a digest an attacker cannot steer would sort.
 * t/unit/key_timing.c measures it (Welch's t-test, t/205-key-timing.t).
 */

ngx_http_llm_key_t *
ngx_http_llm_keys_lookup(ngx_http_llm_keys_t *keys, ngx_str_t *cred)
{
    u_char               digest[NGX_HTTP_LLM_DIGEST_LEN];
    uint64_t             want, less;
    ngx_uint_t           n, lo, half, miss;
    ngx_http_llm_key_t  *key;

    n = keys->keys.nelts;

    if (n == 0) {
        return NULL;
    }

    SHA256(cred->data, cred->len, digest);

    want = ngx_http_llm_keys_prefix64(digest);

    /* the last key whose prefix is not above the digest's, or the first */

    lo = 0;

    for (half = n / 2; n > 1; half = n / 2) {
        less = ngx_http_llm_keys_prefix64(keys->sorted[lo + half]->digest)
               <= want;

        /* lo += half when less, without a branch */
        lo += half & (ngx_uint_t) (0 - less);
        n -= half;
    }

    key = keys->sorted[lo];

    miss = (CRYPTO_memcmp(digest, key->digest, NGX_HTTP_LLM_DIGEST_LEN) != 0);

    ngx_explicit_memzero(digest, sizeof(digest));

    return miss ? NULL : key;
}


ngx_int_t
ngx_http_llm_keys_auth(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_str_t                 cred, v;
    ngx_uint_t                i, n, bad;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_llm_key_t       *key;
    ngx_http_llm_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_module);

    if (llcf->auth == 0 || (llcf->auth == NGX_CONF_UNSET && !llcf->keys)) {
        return NGX_OK;
    }

    if (llcf->keys == NULL) {
        return ngx_http_llm_keys_unauthorized(r, 0);
    }

    ngx_str_null(&cred);
    n = 0;
    bad = 0;

    /* Authorization: Bearer <key>, the scheme in any case */

    h = r->headers_in.authorization;

    if (h) {
        v = h->value;

        if (v.len > 7 && ngx_strncasecmp(v.data, (u_char *) "Bearer", 6) == 0
            && (v.data[6] == ' ' || v.data[6] == '\t'))
        {
            v.data += 7;
            v.len -= 7;

            if (ngx_http_llm_keys_credential(&v, &cred, &n, &bad) != NGX_OK) {
                bad = 1;
            }

        } else {
            bad = 1;
        }
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        if ((h[i].key.len == sizeof("x-api-key") - 1
             && ngx_strncmp(h[i].lowcase_key, "x-api-key",
                            sizeof("x-api-key") - 1) == 0)
            || (h[i].key.len == sizeof("x-goog-api-key") - 1
                && ngx_strncmp(h[i].lowcase_key, "x-goog-api-key",
                               sizeof("x-goog-api-key") - 1) == 0))
        {
            if (ngx_http_llm_keys_credential(&h[i].value, &cred, &n, &bad)
                != NGX_OK)
            {
                bad = 1;
            }
        }
    }

    if (n == 0 && !bad) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent no API key");
        return ngx_http_llm_keys_unauthorized(r, 1);
    }

    if (bad) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent a malformed API key, or different "
                      "ones");
        return ngx_http_llm_keys_unauthorized(r, 0);
    }

    key = ngx_http_llm_keys_lookup(llcf->keys, &cred);

    if (key == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: client sent an unknown API key");
        return ngx_http_llm_keys_unauthorized(r, 0);
    }

    if (key->revoked) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: API key \"%V\" is revoked", &key->name);
        return ngx_http_llm_keys_unauthorized(r, 0);
    }

    if (key->expires && ngx_time() >= key->expires) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: API key \"%V\" has expired", &key->name);
        return ngx_http_llm_keys_unauthorized(r, 0);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "http llm key \"%V\"", &key->name);

    ctx->key = key;

    return NGX_OK;
}


/*
 * One presented credential, trimmed; every one presented must be the
 * same.  NGX_ERROR: empty, too long or different from the first.
 */

static ngx_int_t
ngx_http_llm_keys_credential(ngx_str_t *value, ngx_str_t *cred,
    ngx_uint_t *n, ngx_uint_t *bad)
{
    ngx_str_t  v;

    v = *value;

    while (v.len && (v.data[0] == ' ' || v.data[0] == '\t')) {
        v.data++;
        v.len--;
    }

    while (v.len && (v.data[v.len - 1] == ' ' || v.data[v.len - 1] == '\t'))
    {
        v.len--;
    }

    (*n)++;

    if (v.len == 0 || v.len > NGX_HTTP_LLM_KEY_MAX) {
        return NGX_ERROR;
    }

    if (*n > 1) {
        if (cred->len != v.len
            || CRYPTO_memcmp(cred->data, v.data, v.len) != 0)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    *cred = v;

    return NGX_OK;
}


/* the same answer for every key refused: nothing tells them apart */

static ngx_int_t
ngx_http_llm_keys_unauthorized(ngx_http_request_t *r, ngx_uint_t missing)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    ngx_str_set(&h->value, "Bearer");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    if (missing) {
        return ngx_http_llm_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "invalid_request_error",
                                       "missing_api_key",
                                       "Missing API key: send it as "
                                       "\"Authorization: Bearer <key>\" or "
                                       "\"x-api-key: <key>\".");
    }

    return ngx_http_llm_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_request_error", "invalid_api_key",
                                   "Invalid API key.");
}


ngx_int_t
ngx_http_llm_keys_access(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_llm_keys_model_allowed(r, ctx->key, &ctx->model);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llm: API key \"%V\" may not use the requested model",
                  &ctx->key->name);

    return ngx_http_llm_send_error(r, NGX_HTTP_FORBIDDEN,
                                   "invalid_request_error",
                                   "model_not_allowed",
                                   "This API key may not use the requested "
                                   "model.");
}


ngx_int_t
ngx_http_llm_keys_model_allowed(ngx_http_request_t *r,
    ngx_http_llm_key_t *key, ngx_str_t *model)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_http_llm_model_match_t  *m;

    if (key == NULL || key->models == NULL) {
        return 1;
    }

    m = key->models->elts;

    for (i = 0; i < key->models->nelts; i++) {

        if (m[i].regex == NULL) {
            if (m[i].name.len == model->len
                && ngx_strncmp(m[i].name.data, model->data, model->len) == 0)
            {
                return 1;
            }

            continue;
        }

        rc = ngx_regex_exec(m[i].regex, model, NULL, 0);

        if (rc >= 0) {
            return 1;
        }

        if (rc != NGX_REGEX_NO_MATCHED) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          ngx_regex_exec_n " failed: %i", rc);
            return NGX_ERROR;
        }
    }

    return 0;
}
