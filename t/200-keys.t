# Client virtual keys: llm_key, llm_keys files, llm_auth.  The auth
# matrix (missing, unknown, revoked, expired, malformed, both headers,
# Bearer spelled any way), models allowed per key (403), errors in the
# client's API format, $llm_key_name and $llm_key_team, the key never
# forwarded to the provider nor written to any log, and every config
# error of the key directives.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too
use Digest::SHA qw(sha256_hex);

# the secrets are canaries: no log line may ever contain them
our $Alpha = 'sk-alpha-CANARY-1a2b3c4d5e6f7a8b';
our $Beta = 'sk-beta-CANARY-9f8e7d6c5b4a3928';
our $Old = 'sk-revoked-CANARY-0a0b0c0d0e0f';
our $Gone = 'sk-expired-CANARY-1111aaaa2222';
our $Later = 'sk-later-CANARY-3333bbbb4444cc';
our $Hashed = 'sk-hashed-CANARY-5555dddd6666ee';
our $HashedSha = sha256_hex($Hashed);

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
our $Mini = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';
our $Claude = '{"model":"claude-sonnet-4-5","max_tokens":64,'
              . '"messages":[{"role":"user","content":"hi"}]}';

our $Completion = '{"id":"chatcmpl-1","object":"chat.completion",'
    . '"model":"gpt-4o","choices":[{"index":0,"message":'
    . '{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}';

our $Missing = '{"error":{"message":"Missing API key: send it as '
    . '\"Authorization: Bearer <key>\" or \"x-api-key: <key>\".",'
    . '"type":"invalid_request_error","param":null,'
    . '"code":"missing_api_key"}}' . "\n";

our $Invalid = '{"error":{"message":"Invalid API key.",'
    . '"type":"invalid_request_error","param":null,'
    . '"code":"invalid_api_key"}}' . "\n";

our $Forbidden = '{"error":{"message":"This API key may not use the '
    . 'requested model.","type":"invalid_request_error","param":null,'
    . '"code":"model_not_allowed"}}' . "\n";

our $HttpConfig = <<"_EOC_";
    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route default mock;

    llm_key key=$Alpha name=alpha team=team-a;
    llm_key key=$Beta name=beta models=gpt-4o-mini,~^claude-;
    llm_key key=$Old name=old revoked;
    llm_key key=$Gone name=gone expires=2020-01-01;
    llm_key key=$Later name=later expires=2999-12-31T23:59:59Z;
    llm_key sha256=$HashedSha name=hashed team=team-b;
_EOC_

our $Config = <<'_EOC_';
    location /v1/ {
        llm_pass;
        add_header X-Key "$llm_key_name/$llm_key_team" always;
    }

    location /internal/v1/ {
        llm_pass;
        llm_auth off;
        add_header X-Key "$llm_key_name/$llm_key_team" always;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 $echo_request_method;
    }
_EOC_

$Config =~ s/\$echo_request_method/'$::Completion'/;

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $::HttpConfig);
    }

    if (!defined $block->config) {
        $block->set_value('config', $::Config);
    }
});

run_tests();

__DATA__

=== TEST 1: no key: 401 in OpenAI's format, WWW-Authenticate
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer
X-Key: /
--- response_body eval: $::Missing
--- error_log
llm: client sent no API key
--- no_error_log
[error]



=== TEST 2: Authorization: Bearer with a known key
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"Authorization: Bearer $::Alpha"
--- error_code: 200
--- response_headers
X-Key: alpha/team-a
X-LLM-Provider: mock
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 3: "bearer", "BEARER", several spaces and a tab, trailing space
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["Authorization: bearer $::Alpha",
 "Authorization: BEARER $::Alpha",
 "Authorization: Bearer  \t $::Alpha  ",
 "Authorization: BeArEr $::Alpha"]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::Completion, $::Completion, $::Completion, $::Completion]
--- no_error_log
[error]



=== TEST 4: x-api-key and x-goog-api-key
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["x-api-key: $::Alpha", "X-Goog-Api-Key: $::Alpha", "X-API-KEY: $::Alpha"]
--- error_code eval
[200, 200, 200]
--- no_error_log
[error]



=== TEST 5: an unknown key: 401, the same body as any refused key
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers
Authorization: Bearer sk-unknown-0000000000000000
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body eval: $::Invalid
--- error_log
llm: client sent an unknown API key
--- no_error_log
[error]



=== TEST 6: a revoked key: 401, the same body
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"Authorization: Bearer $::Old"
--- error_code: 401
--- response_body eval: $::Invalid
--- error_log
llm: API key "old" is revoked
--- no_error_log
[error]



=== TEST 7: an expired key: 401, the same body; one expiring later works
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["x-api-key: $::Gone", "x-api-key: $::Later"]
--- error_code eval
[401, 200]
--- response_body eval
[$::Invalid, $::Completion]
--- no_error_log
[error]



=== TEST 8: an expired key is logged by its name
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"x-api-key: $::Gone"
--- error_code: 401
--- error_log
llm: API key "gone" has expired
--- no_error_log
[error]



=== TEST 9: the same key in both headers is accepted, different ones not
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["Authorization: Bearer $::Alpha\nx-api-key: $::Alpha",
 "Authorization: Bearer $::Alpha\nx-api-key: $::Beta",
 "x-api-key: $::Alpha\nx-api-key: $::Beta"]
--- error_code eval
[200, 401, 401]
--- response_body eval
[$::Completion, $::Invalid, $::Invalid]
--- no_error_log
[error]



=== TEST 10: different keys are logged as such
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"Authorization: Bearer $::Alpha\nx-goog-api-key: $::Beta"
--- error_code: 401
--- response_body eval: $::Invalid
--- error_log
llm: client sent a malformed API key, or different ones
--- no_error_log
[error]



=== TEST 11: malformed: another scheme, an empty Bearer, a bare key, an
empty x-api-key; all the same 401
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["Authorization: Basic YWxwaGE6YmV0YQ==",
 "Authorization: Bearer ",
 "Authorization: $::Alpha",
 "Authorization: Bearer$::Alpha",
 "x-api-key: "]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_body eval
[$::Invalid, $::Invalid, $::Invalid, $::Invalid, $::Invalid]
--- no_error_log
[error]



=== TEST 12: a key given as its SHA-256
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"x-api-key: $::Hashed"
--- error_code: 200
--- response_headers
X-Key: hashed/team-b
--- no_error_log
[error]



=== TEST 13: models=: names and regexes allowed, others 403
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Mini",
 "POST /v1/chat/completions\n$::Claude",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["Authorization: Bearer $::Beta", "Authorization: Bearer $::Beta",
 "Authorization: Bearer $::Beta"]
--- error_code eval
[200, 200, 403]
--- response_body eval
[$::Completion, $::Completion, $::Forbidden]
--- no_error_log
[error]



=== TEST 14: a model not allowed is logged with the key's name
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"x-api-key: $::Beta"
--- error_code: 403
--- error_log
llm: API key "beta" may not use the requested model
--- no_error_log
[error]



=== TEST 15: Anthropic clients get Anthropic's error format
--- pipelined_requests eval
["POST /v1/messages\n$::Claude",
 "POST /v1/messages\n$::Claude",
 "POST /v1/messages\n$::Chat"]
--- more_headers eval
["anthropic-version: 2023-06-01",
 "x-api-key: sk-unknown-0000000000000000",
 "x-api-key: $::Beta"]
--- error_code eval
[401, 401, 403]
--- response_body eval
['{"type":"error","error":{"type":"authentication_error","message":"Missing API key: send it as \"Authorization: Bearer <key>\" or \"x-api-key: <key>\"."}}' . "\n",
 '{"type":"error","error":{"type":"authentication_error","message":"Invalid API key."}}' . "\n",
 '{"type":"error","error":{"type":"permission_error","message":"This API key may not use the requested model."}}' . "\n"]
--- no_error_log
[error]



=== TEST 16: GET /v1/models needs a key too
--- pipelined_requests eval
["GET /v1/models", "GET /v1/models"]
--- more_headers eval
["", "Authorization: Bearer $::Alpha"]
--- error_code eval
[401, 200]
--- no_error_log
[error]



=== TEST 17: llm_auth off: trusted internal traffic needs no key
--- request eval
"POST /internal/v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
X-Key: /
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 18: the client's key never reaches the provider
--- http_config eval
"    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_route default mock;
    llm_key key=$::Alpha name=alpha;"
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"POST /v1/chat/completions HTTP/1.1\r
Host: 127.0.0.1\r
Content-Type: application/json\r
Content-Length: " . length($::Chat) . "\r
Accept: application/json\r
Accept-Encoding: identity\r
\r
$::Chat"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
. length($::Completion) . "\r\nConnection: close\r\n\r\n$::Completion"
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- more_headers eval
"Authorization: Bearer $::Alpha\nx-api-key: $::Alpha"
--- error_code: 200
--- response_body eval: $::Completion
--- no_error_log
[error]



=== TEST 19: keys file: comments, blank lines, a team line, sha256=
--- user_files eval
">>> keys
# team-a's applications
key=$::Alpha name=alpha team=team-a rpm=600   # the chat app

   sha256=$::HashedSha\tname=hashed\tteam=team-a
team=team-a rpm=6000 budget_cost=50/month
key=$::Old name=old revoked
"
--- http_config
    llm_zone llm:64k;
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route default mock;
    llm_keys $TEST_NGINX_HTML_DIR/keys;
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["Authorization: Bearer $::Alpha", "x-api-key: $::Hashed",
 "x-api-key: $::Old", "x-api-key: $::Beta"]
--- error_code eval
[200, 200, 401, 401]
--- no_error_log
[error]



=== TEST 20: llm_keys in a location replaces the inherited keys
--- config
    location /v1/ {
        llm_pass;
        llm_key key=sk-local-CANARY-77778888999900 name=local;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"choices":[]}';
    }
--- pipelined_requests eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- more_headers eval
["Authorization: Bearer $::Alpha",
 "Authorization: Bearer sk-local-CANARY-77778888999900"]
--- error_code eval
[401, 200]
--- no_error_log
[error]



=== TEST 21: at debug level, no line of the module holds a key: nginx's
own dump of the request headers (a --with-debug build at debug level)
is the only line that does
--- log_level: debug
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/messages\n$::Claude"]
--- more_headers eval
["Authorization: Bearer $::Alpha", "x-api-key: $::Old",
 "x-api-key: $::Gone", "x-api-key: $::Beta",
 "Authorization: Bearer $::Alpha\nx-api-key: $::Beta"]
--- error_code eval
[200, 401, 401, 403, 401]
--- grep_error_log eval
qr/^.*CANARY.*$/m
--- grep_error_log_out eval
[qr/\A(?:.*\] \d+#\d+: \*\d+ http header: "(?:Authorization|x-api-key): [^\n]*\n)+\z/,
 qr/\A(?:.*\] \d+#\d+: \*\d+ http header: "(?:Authorization|x-api-key): [^\n]*\n)+\z/,
 qr/\A(?:.*\] \d+#\d+: \*\d+ http header: "(?:Authorization|x-api-key): [^\n]*\n)+\z/,
 qr/\A(?:.*\] \d+#\d+: \*\d+ http header: "(?:Authorization|x-api-key): [^\n]*\n)+\z/,
 qr/\A(?:.*\] \d+#\d+: \*\d+ http header: "(?:Authorization|x-api-key): [^\n]*\n)+\z/]
--- no_error_log
[error]



=== TEST 22: "llm_auth on" without keys
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_auth on;
    }
--- must_die
--- error_log
"llm_auth" is on but no "llm_keys" or "llm_key" is defined for the location



=== TEST 23: a short key; the secret is never echoed
--- http_config
    llm_key key=sk-CANARY-short name=a;
--- config
--- must_die
--- error_log
"key=" must be 16 to 1024 characters long
--- no_error_log
CANARY



=== TEST 24: a mistyped "key=" is named, never echoed
--- http_config
    llm_key ky=sk-CANARY-0123456789abcdef name=a;
--- config
--- must_die
--- error_log
invalid parameter "ky="
--- no_error_log
CANARY



=== TEST 25: a bad sha256=
--- http_config
    llm_key sha256=0123abcd name=a;
--- config
--- must_die
--- error_log
"sha256=" must be 64 hexadecimal digits



=== TEST 26: the same key twice
--- http_config eval
"    llm_key key=$::Alpha name=a;
    llm_key sha256=" . Digest::SHA::sha256_hex($::Alpha) . " name=b;"
--- config
--- must_die
--- error_log
keys "a" and "b" are the same key



=== TEST 27: the same name twice
--- http_config eval
"    llm_key key=$::Alpha name=a;
    llm_key key=$::Beta name=a;"
--- config
    location /v1/ {
        llm_pass;
    }
--- must_die
--- error_log
duplicate key name "a"



=== TEST 28: a key without name=
--- http_config eval
"    llm_key key=$::Alpha;"
--- config
--- must_die
--- error_log
a key needs "name="



=== TEST 29: limits without llm_zone
--- http_config eval
"    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 key=none;
    llm_route default mock;
    llm_key key=$::Alpha name=a rpm=10;"
--- config
    location /v1/ {
        llm_pass;
    }
--- must_die
--- error_log
keys with limits or budgets need an "llm_zone"



=== TEST 30: bad values
--- http_config eval
"    llm_key key=$::Alpha name=a rpm=0;"
--- config
--- must_die
--- error_log
invalid value "rpm=0"



=== TEST 31: bad budget period
--- http_config eval
"    llm_key key=$::Alpha name=a budget_tokens=100/week;"
--- config
--- must_die
--- error_log
invalid value "budget_tokens=100/week"



=== TEST 32: bad expiry date
--- http_config eval
"    llm_key key=$::Alpha name=a expires=2027-02-30;"
--- config
--- must_die
--- error_log
invalid date "expires=2027-02-30", expected YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss]Z



=== TEST 33: bad models regex
--- http_config eval
"    llm_key key=$::Alpha name=a models=gpt-4o,~^(claude;"
--- config
--- must_die
--- error_log
pcre2_compile() failed: missing closing parenthesis in "^(claude"



=== TEST 34: a keys file that does not exist
--- http_config
    llm_keys /nonexistent/llm-keys;
--- config
--- must_die
--- error_log
open() "/nonexistent/llm-keys" failed



=== TEST 35: an error in a keys file names the file and line
--- user_files
>>> keys
# first line
key=sk-abcdefghijklmnopqrstuvwxyz name=a

key=sk-zyxwvutsrqponmlkjihgfedcba name=b rpm=ten
--- http_config
    llm_keys $TEST_NGINX_HTML_DIR/keys;
--- config
--- must_die
--- error_log eval
qr/invalid value "rpm=ten" in keys file ".*?\/html\/keys" line 4/



=== TEST 36: a team line with a key parameter
--- user_files
>>> keys
team=t models=gpt-4o rpm=10
--- http_config
    llm_keys $TEST_NGINX_HTML_DIR/keys;
--- config
--- must_die
--- error_log
a key needs "key=" or "sha256=", a team line only "team=" and limits



=== TEST 37: GET /v1/models lists only the models the key may use
--- http_config eval
"    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
    llm_route gpt-4o-mini mock;
    llm_route claude-sonnet-4-5 mock;
    llm_route ~^o\\d mock;
    llm_key key=$::Alpha name=alpha;
    llm_key key=$::Beta name=beta models=gpt-4o-mini,~^claude-;
    llm_key key=$::Later name=later models=o3;"
--- config
    location /v1/ {
        llm_pass;
    }
--- pipelined_requests eval
["GET /v1/models", "GET /v1/models", "GET /v1/models"]
--- more_headers eval
["Authorization: Bearer $::Alpha", "Authorization: Bearer $::Beta",
 "x-api-key: $::Later"]
--- response_body_like eval
[qr/\A\{"object":"list","data":\[\{"id":"gpt-4o",[^]]*\{"id":"gpt-4o-mini",[^]]*\{"id":"claude-sonnet-4-5",[^]]*\]\}\n\z/,
 qr/\A\{"object":"list","data":\[\{"id":"gpt-4o-mini","object":"model","created":\d+,"owned_by":"mock"\},\{"id":"claude-sonnet-4-5","object":"model","created":\d+,"owned_by":"mock"\}\]\}\n\z/,
 qr/\A\{"object":"list","data":\[\]\}\n\z/]
--- error_code eval
[200, 200, 200]
--- no_error_log
[error]



=== TEST 38: GET /v1/models/{id}: 404 for a model the key may not use, the
same answer as for a model that is not routed
--- http_config eval
"    llm_provider mock type=openai upstream=127.0.0.1:\$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
    llm_route gpt-4o-mini mock;
    llm_route claude-sonnet-4-5 mock;
    llm_key key=$::Beta name=beta models=gpt-4o-mini,~^claude-;"
--- config
    location /v1/ {
        llm_pass;
    }
--- pipelined_requests eval
["GET /v1/models/gpt-4o-mini", "GET /v1/models/claude-sonnet-4-5",
 "GET /v1/models/gpt-4o", "GET /v1/models/nothing"]
--- more_headers eval
"Authorization: Bearer $::Beta"
--- response_body_like eval
[qr/\A\{"id":"gpt-4o-mini","object":"model"/,
 qr/\A\{"id":"claude-sonnet-4-5","object":"model"/,
 qr/\A\{"error":\{"message":"The requested model does not exist or is not routed by this gateway.","type":"invalid_request_error","param":null,"code":"model_not_found"\}\}\n\z/,
 qr/\A\{"error":\{"message":"The requested model does not exist or is not routed by this gateway.","type":"invalid_request_error","param":null,"code":"model_not_found"\}\}\n\z/]
--- error_code eval
[200, 200, 404, 404]
--- no_error_log
[error]



=== TEST 39: llm_key: a per-model limit with a bad value
--- http_config eval
"    llm_key key=$::Alpha name=a rpm:gpt-4o=0;"
--- config
--- must_die
--- error_log
invalid value "rpm:gpt-4o=0"



=== TEST 40: llm_key: per-model limits need an llm_zone
--- http_config eval
"    llm_key key=$::Alpha name=a tpm:*=1000;"
--- config
    location /v1/ {
        llm_pass;
    }
--- must_die
--- error_log
keys with limits or budgets need an "llm_zone"
