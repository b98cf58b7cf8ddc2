# Directives: every configuration error that llm_provider, llm_route,
# llm_pass and the router emit (must_die, exact error_log text), and a
# working configuration for every directive.
#
# Mock providers are locations of the same server (base=/mock) that
# reflect what they received as JSON, or servers in http_config.

use Test::Nginx::Socket 'no_plan';
use t::LLMCanary;       # the canary under the real Test::Nginx too

$ENV{LLM_TEST_KEY} = 'sk-env-CANARY-0123456789';
$ENV{LLM_TEST_BLANK} = " \t ";
$ENV{LLM_TEST_EMPTY} = '';
delete $ENV{LLM_TEST_UNSET};

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';

# a self-signed certificate for "llm.test", valid 2000-2100, its key, an
# empty CRL and a CRL that revokes the certificate
our $Tls = <<'_EOF_';
>>> llm.crt
-----BEGIN CERTIFICATE-----
MIIBbDCCARKgAwIBAgICEAAwCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIbGxtLnRl
c3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBMxETAPBgNVBAMM
CGxsbS50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvyH3nVFpzgSUpHCQ
Azue4n2tf7i+2BSGGrBIGJ3KH6EX+/zkVDNzYq/ci7jTH5a0KJb5dei4ChZX4yWd
izvKYaNUMFIwEwYDVR0RBAwwCoIIbGxtLnRlc3QwCwYDVR0PBAQDAgGGMA8GA1Ud
EwEB/wQFMAMBAf8wHQYDVR0OBBYEFMLp2T9uaqHEq+E+VMQWOiphQEuPMAoGCCqG
SM49BAMCA0gAMEUCIQDVUayVeXz2AK6oSg0DKo/1XYOhn9v0fB2Ik/UahHqkYQIg
a2c77J2+aGGpfVRYUUFmiJVpJMj+Pu+LOUFrt2jksfs=
-----END CERTIFICATE-----
>>> llm.pem
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVFR3wkcFh3N7P6tR
06zzTSavyc0Aidb2BlTiy8T87FyhRANCAAS/IfedUWnOBJSkcJADO57ifa1/uL7Y
FIYasEgYncofoRf7/ORUM3Nir9yLuNMflrQolvl16LgKFlfjJZ2LO8ph
-----END PRIVATE KEY-----
>>> llm.crl
-----BEGIN X509 CRL-----
MIGrMFQCAQEwCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIbGxtLnRlc3QXDTAwMDEw
MTAwMDAwMFoYDzIxMjYxMTAxMTI1ODU2WqAOMAwwCgYDVR0UBAMCAQEwCgYIKoZI
zj0EAwIDRwAwRAIgEQHog9YjzwGwPOEb9hYiWqM3uRVo7pLbhLlZRXYoW38CIGvU
JCVQyqcgc/kGqSHzYPJTwZ13vGSam+ZG+oxWDy+G
-----END X509 CRL-----
>>> revoked.crl
-----BEGIN X509 CRL-----
MIHDMGsCAQEwCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIbGxtLnRlc3QXDTAwMDEw
MTAwMDAwMFoYDzIxMjYxMTAxMTI1ODU5WjAVMBMCAhAAFw0yNjExMjUxMjU4NTla
oA4wDDAKBgNVHRQEAwIBAjAKBggqhkjOPQQDAgNIADBFAiAxVOVY/9/5/AjMlGdA
5/NpHzEudz7WpOXQtE6cnrx3DAIhANx/qeIbwMdi0vE0nHUsOq0+1snKeddeUy7r
KQZVzH8N
-----END X509 CRL-----
_EOF_

# a TLS mock provider on $TEST_NGINX_RAND_PORT_1 that reports what the
# handshake negotiated
our $TlsMock = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name llm.test;

        ssl_certificate ../html/llm.crt;
        ssl_certificate_key ../html/llm.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:llm_test:1m;

        location / {
            echo_read_request_body;
            echo -n '{"sni":"$ssl_server_name","protocol":"$ssl_protocol",';
            echo -n '"cipher":"$ssl_cipher",';
            echo -n '"reused":"$ssl_session_reused","host":"$http_host"}';
        }
    }
_EOC_

repeat_each(2);
no_shuffle();

# startup warnings are checked in every repeated request
check_accum_error_log();

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->must_die) {
        $block->set_value('suppress_stderr', 1)
            if !defined $block->suppress_stderr;

        # real Test::Nginx starts nginx only for a block with a config,
        # and wants a request even when nginx must not start
        $block->set_value('config', "    location = /t { return 204; }\n")
            if !defined $block->config;
        $block->set_value('request', "GET /t\n")
            if !defined $block->request;
        return;
    }

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
    }
_EOC_
    }

    # the reflecting mock: what the provider received, as JSON
    if ($block->config !~ m{location /mock/}) {
        $block->set_value('config', $block->config . <<'_EOC_');
    location /mock/ {
        echo_read_request_body;
        echo -n '{"uri":"$uri","host":"$http_host",';
        echo -n '"auth":"$http_authorization","x":"$http_x_extra",';
        echo -n '"org":"$http_openai_organization","body":';
        echo_request_body;
        echo -n '}';
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: llm_provider, llm_route and llm_pass: the smallest gateway
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers
Content-Type: application/json
X-LLM-Provider: mock
X-LLM-Model: gpt-4o
--- response_body eval
'{"uri":"/mock/chat/completions","host":"127.0.0.1","auth":"","x":"",'
. '"org":"","body":' . $::Chat . '}'
--- no_error_log
[error]
[warn]



=== TEST 2: llm_provider host=, base= (trailing slash dropped), header=
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 host=llm.example base=/mock/v1/ key=none
                 header=X-Extra:one "header=OpenAI-Organization:  org-1";
    llm_route gpt-4o mock;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body eval
'{"uri":"/mock/v1/chat/completions","host":"llm.example","auth":"",'
. '"x":"one","org":"org-1","body":' . $::Chat . '}'
--- no_error_log
[error]



=== TEST 3: llm_provider upstream= names an upstream{} block
--- http_config
    upstream llm_pool {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }

    llm_provider mock type=openai upstream=llm_pool base=/mock key=none;
    llm_route gpt-4o mock;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body eval
'{"uri":"/mock/chat/completions","host":"llm_pool","auth":"","x":"",'
. '"org":"","body":' . $::Chat . '}'
--- no_error_log
[error]



=== TEST 4: llm_provider type= presets: base path per type, no key needed
for local servers, type names are case-insensitive
--- http_config
    llm_provider openai     type=openai     key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider deepseek   type=deepseek   key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider mistral    type=mistral    key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider groq       type=groq       key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider together   type=together   key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider openrouter type=openrouter key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider xai        type=xai        key=none
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider vllm       type=VLLM
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider ollama     type=ollama
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;
    llm_provider llamacpp   type=LlamaCpp
                            upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT;

    llm_route m-openai openai;
    llm_route m-deepseek deepseek;
    llm_route m-mistral mistral;
    llm_route m-groq groq;
    llm_route m-together together;
    llm_route m-openrouter openrouter;
    llm_route m-xai xai;
    llm_route m-vllm vllm;
    llm_route m-ollama ollama;
    llm_route m-llamacpp llamacpp;
--- config
    location /gw/ {
        llm_pass;
    }

    location ~ ^/(v1/|openai/v1/|api/v1/)?chat/completions$ {
        echo_read_request_body;
        echo -n '{"uri":"$uri","auth":"$http_authorization"}';
    }
--- request eval
[map { "POST /gw/chat/completions\n"
       . '{"model":"m-' . $_ . '","messages":[]}' }
 qw(openai deepseek mistral groq together openrouter xai vllm ollama
    llamacpp)]
--- response_body eval
[map { '{"uri":"' . $_ . '","auth":""}' }
 qw(/v1/chat/completions /chat/completions /v1/chat/completions
    /openai/v1/chat/completions /v1/chat/completions /api/v1/chat/completions
    /v1/chat/completions /v1/chat/completions /v1/chat/completions
    /v1/chat/completions)]
--- no_error_log
[error]



=== TEST 5: key=env:NAME is sent as a bearer token
--- canary_ok
the mock writes the provider key it got into its answer
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=env:LLM_TEST_KEY;
    llm_route gpt-4o mock;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body eval
'{"uri":"/mock/chat/completions","host":"127.0.0.1",'
. '"auth":"Bearer sk-env-CANARY-0123456789","x":"","org":"","body":' . $::Chat
. '}'
--- no_error_log
[error]



=== TEST 6: key=file:PATH, relative to the configuration prefix and
absolute, surrounding whitespace trimmed
--- http_config
    llm_provider rel type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=file:../html/rel.key;
    llm_provider abs type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=file:$TEST_NGINX_SERVER_ROOT/html/abs.key;
    llm_route rel rel;
    llm_route abs abs;
--- user_files eval
">>> rel.key\n  sk-file-rel \t\n\n>>> abs.key\nsk-file-abs\r\n"
--- request eval
["POST /v1/chat/completions\n" . '{"model":"rel","messages":[]}',
 "POST /v1/chat/completions\n" . '{"model":"abs","messages":[]}']
--- response_body eval
['{"uri":"/mock/chat/completions","host":"127.0.0.1",'
 . '"auth":"Bearer sk-file-rel","x":"","org":"","body":'
 . '{"model":"rel","messages":[]}}',
 '{"uri":"/mock/chat/completions","host":"127.0.0.1",'
 . '"auth":"Bearer sk-file-abs","x":"","org":"","body":'
 . '{"model":"abs","messages":[]}}']
--- no_error_log
[error]



=== TEST 7: optional provider without its variable is disabled: its
routes lose it and the model falls to the default route
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider opt type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/opt key=env:LLM_TEST_UNSET optional;
    llm_route only-opt opt;
    llm_route both opt:never mock:mixed;
    llm_route default mock:fallback;
--- config
    location /opt/ {
        return 500;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"model":"only-opt","messages":[]}',
 "POST /v1/chat/completions\n" . '{"model":"both","messages":[]}']
--- response_headers eval
["X-LLM-Provider: mock\nX-LLM-Model: fallback",
 "X-LLM-Provider: mock\nX-LLM-Model: mixed"]
--- response_body eval
['{"uri":"/mock/chat/completions","host":"127.0.0.1","auth":"","x":"",'
 . '"org":"","body":{"model":"fallback","messages":[]}}',
 '{"uri":"/mock/chat/completions","host":"127.0.0.1","auth":"","x":"",'
 . '"org":"","body":{"model":"mixed","messages":[]}}']
--- suppress_stderr
--- error_log
[warn]
environment variable "LLM_TEST_UNSET" is not set, llm_provider "opt" is disabled
--- no_error_log
[error]
[emerg]



=== TEST 8: optional provider disabled: its routes vanish from /v1/models
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider opt type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/opt key=env:LLM_TEST_EMPTY optional;
    llm_route only-opt opt;
    llm_route gpt-4o mock;
    llm_route both opt mock;
--- request eval
["GET /v1/models", "GET /v1/models/only-opt", "GET /v1/models/both"]
--- error_code eval
[200, 404, 200]
--- response_body_like eval
['^\{"object":"list","data":\[\{"id":"gpt-4o","object":"model","created":\d+,"owned_by":"mock"\},\{"id":"both","object":"model","created":\d+,"owned_by":"mock"\}\]\}$',
 '"code":"model_not_found"',
 '^\{"id":"both","object":"model","created":\d+,"owned_by":"mock"\}$']
--- suppress_stderr
--- error_log
environment variable "LLM_TEST_EMPTY" is not set, llm_provider "opt" is disabled
--- no_error_log
[error]



=== TEST 9: optional provider whose key file is missing is disabled
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_provider opt type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/opt key=file:/nonexistent/llm.key optional;
    llm_route gpt-4o opt;
    llm_route ~^gpt- mock;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers
X-LLM-Provider: mock
--- suppress_stderr
--- error_log
open() "/nonexistent/llm.key" failed, llm_provider "opt" is disabled (2: No such file or directory)
--- no_error_log
[error]



=== TEST 10: optional provider with its key is enabled
--- canary_ok
the mock writes the provider key it got into its answer
--- http_config
    llm_provider opt type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=env:LLM_TEST_KEY optional;
    llm_route gpt-4o opt;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers
X-LLM-Provider: opt
--- response_body_like: "auth":"Bearer sk-env-CANARY-0123456789"
--- no_error_log
[error]
[warn]



=== TEST 11: llm_route: exact names before regular expressions (in order,
~* caseless, $N captures), aliases, the default route
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route oss/exact mock:exact-target;
    llm_route ~^oss/(.+)/(.+)$ mock:$2-$1;
    llm_route ~^oss/(.+)$ mock:local-$1;
    llm_route ~*^claude- mock:claude-via-regex;
    llm_route smart mock:gpt-4.1;
    llm_route Mixed-Case mock;
    llm_route default mock:fallback;
--- request eval
[map { "POST /v1/chat/completions\n{\"model\":\"$_\",\"messages\":[]}" }
 qw(oss/exact oss/a/b oss/llama CLAUDE-3 smart Mixed-Case mixed-case
    other)]
--- response_headers eval
[map { "X-LLM-Model: $_" }
 qw(exact-target b-a local-llama claude-via-regex gpt-4.1 Mixed-Case
    fallback fallback)]
--- response_body_like eval
[map { qr/"body":\{"model":"\Q$_\E","messages":\[\]\}\}$/ }
 qw(exact-target b-a local-llama claude-via-regex gpt-4.1 Mixed-Case
    fallback fallback)]
--- no_error_log
[error]



=== TEST 12: llm_route weights are accepted (the spread is in 020-chat.t)
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock:a weight=1 mock:b weight=1000 mock:c;
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers_like
X-LLM-Model: [abc]
--- no_error_log
[error]



=== TEST 13: llm_pass with a fixed surface: chat, embeddings, models, auto
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location = /chat { llm_pass chat; }
    location = /emb { llm_pass embeddings; }
    location = /list { llm_pass models; }
    location /auto/ { llm_pass auto; }
--- request eval
["POST /chat\n$::Chat",
 "POST /emb\n" . '{"model":"gpt-4o","input":"hi"}',
 "GET /list",
 "POST /auto/chat/completions\n$::Chat",
 "GET /auto/models/gpt-4o"]
--- response_body_like eval
['^\{"uri":"/mock/chat/completions",',
 '^\{"uri":"/mock/embeddings",',
 '^\{"object":"list","data":\[\{"id":"gpt-4o",',
 '^\{"uri":"/mock/chat/completions",',
 '^\{"id":"gpt-4o","object":"model",']
--- no_error_log
[error]



=== TEST 14: llm_pass inside "if" in a location
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /gw/ {
        if ($arg_llm) {
            llm_pass;
        }

        echo "not the gateway";
    }
--- request eval
["POST /gw/chat/completions?llm=1\n$::Chat",
 "POST /gw/chat/completions\n$::Chat"]
--- response_body_like eval
['^\{"uri":"/mock/chat/completions",', '^not the gateway$']
--- no_error_log
[error]



=== TEST 15: llm_connect_timeout, llm_send_timeout, llm_read_timeout
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/slow key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_connect_timeout 1s;
        llm_send_timeout 1s;
        llm_read_timeout 1s;
    }

    location /slow/ {
        echo_read_request_body;
        echo_sleep 0.05;
        echo -n '{"slow":true}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body: {"slow":true}
--- no_error_log
[error]



=== TEST 16: llm_read_timeout fires: 504 upstream_timeout
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/slow key=none;
    llm_route gpt-4o mock;
--- config
    llm_read_timeout 50ms;

    location /v1/ {
        llm_pass;
    }

    location /slow/ {
        echo_read_request_body;
        echo_sleep 0.2;
        echo -n '{"slow":true}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 504
--- response_body
{"error":{"message":"The model provider did not answer in time.","type":"api_error","param":null,"code":"upstream_timeout"}}
--- error_log
upstream timed out (110: Connection timed out) while reading response header from upstream



=== TEST 17: llm_buffer_size smaller than the response
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_buffer_size 1k;
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","messages":[{"role":"user","content":"'
. ('0123456789' x 500) . '"}]}'
--- response_body eval
'{"uri":"/mock/chat/completions","host":"127.0.0.1","auth":"","x":"",'
. '"org":"","body":{"model":"gpt-4o","messages":[{"role":"user",'
. '"content":"' . ('0123456789' x 500) . '"}]}}'
--- no_error_log
[error]



=== TEST 18: llm_max_response_size: a larger response is a 502, one within
it passes
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_max_response_size 2k;
    }
--- request eval
["POST /v1/chat/completions\n"
 . '{"model":"gpt-4o","messages":[{"role":"user","content":"'
 . ('0123456789' x 300) . '"}]}',
 "POST /v1/chat/completions\n$::Chat"]
--- error_code eval
[502, 200]
--- response_body_like eval
['^\{"error":\{"message":"The model provider could not be reached or sent an invalid response\.","type":"api_error","param":null,"code":"upstream_error"\}\}$',
 '^\{"uri":"/mock/chat/completions"']
--- error_log
upstream sent too large response: more than 2048 bytes (llm_max_response_size)



=== TEST 19: llm_max_event_size: events within it pass
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_max_event_size 64;
    }

    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":{"content":"0123456789"}}]}\n\n';
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- response_body eval
"data: {\"choices\":[{\"delta\":{\"content\":\"0123456789\"}}]}\n\n"
. "data: [DONE]\n\n"
--- no_error_log
[error]



=== TEST 20: llm_max_event_size: a larger event ends the stream
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/sse key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_max_event_size 64;
    }

    location /sse/ {
        default_type text/event-stream;
        echo_read_request_body;
        echo -n 'data: {"choices":[{"delta":{"content":"0123456789"}}]}\n\n';
        echo -n 'data: {"choices":[{"delta":{"content":"0123456789012345678901234567890123456789"}}]}\n\n';
        echo -n 'data: [DONE]\n\n';
    }
--- request eval
"POST /v1/chat/completions\n"
. '{"model":"gpt-4o","stream":true,"messages":[]}'
--- ignore_response
--- error_log
upstream sent too large SSE event: 78



=== TEST 21: llm_next_upstream (default: error timeout): a refused server
is skipped for the next one
--- http_config
    upstream llm_pool {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=llm_pool base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error timeout;
        llm_next_upstream_tries 2;
        llm_next_upstream_timeout 5s;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"uri":"/mock/chat/completions"
--- error_log
connect() failed (111: Connection refused) while connecting to upstream
--- no_error_log
[alert]
[crit]



=== TEST 22: llm_next_upstream off: no next server
--- http_config
    upstream llm_pool {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=llm_pool base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream off;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 23: llm_next_upstream_tries 1: no next server
--- http_config
    upstream llm_pool {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=llm_pool base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream_tries 1;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 24: llm_next_upstream http_503 non_idempotent: a POST that got a
503 goes to the next server, with one set of X-LLM-* headers
--- http_config
    upstream llm_pool {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 503 '{"error":{"message":"busy","type":"server_error"}}';
        }
    }

    llm_provider mock type=openai upstream=llm_pool base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error timeout http_503 non_idempotent;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers
X-LLM-Provider: mock
X-LLM-Model: gpt-4o
--- response_body_like: ^\{"uri":"/mock/chat/completions"
--- error_log
llm provider "mock" answered 503
--- no_error_log
[alert]
[crit]



=== TEST 25: llm_next_upstream http_503 without non_idempotent: the POST
is not retried, the 503 is the client's
--- http_config
    upstream llm_pool {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 503 '{"error":{"message":"busy","type":"server_error"}}';
        }
    }

    llm_provider mock type=openai upstream=llm_pool base=/mock key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error timeout http_503;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 503
--- response_body
{"error":{"message":"busy","type":"server_error","param":null,"code":null}}
--- error_log
llm provider "mock" answered 503



=== TEST 26: tls: the certificate is verified against
llm_ssl_trusted_certificate and host=, which is also the SNI name
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_verify_depth 1;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"sni":"llm\.test","protocol":"TLSv1\.3",.*"host":"llm\.test"\}$
--- no_error_log
[error]



=== TEST 27: tls: a name that is not in the certificate fails
verification (llm_ssl_verify is on by default)
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=other.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- error_log
upstream SSL certificate does not match "other.test" while SSL handshaking to upstream



=== TEST 28: tls: llm_ssl_verify off accepts the certificate
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=other.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_verify off;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"sni":"other\.test",.*"host":"other\.test"\}$
--- no_error_log
[error]



=== TEST 29: tls: llm_ssl_server_name off sends no SNI, the name is still
verified
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_server_name off;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"sni":"",.*"host":"llm\.test"\}$
--- no_error_log
[error]



=== TEST 30: tls: llm_ssl_protocols and llm_ssl_ciphers
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_protocols TLSv1.2;
        llm_ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"sni":"llm\.test","protocol":"TLSv1\.2","cipher":"ECDHE-ECDSA-AES256-GCM-SHA384",
--- no_error_log
[error]



=== TEST 31: tls: llm_ssl_crl without the certificate passes
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_crl ../html/llm.crl;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like: ^\{"sni":"llm\.test",
--- no_error_log
[error]



=== TEST 32: tls: llm_ssl_crl that revokes the certificate fails
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_crl ../html/revoked.crl;
    }
--- user_files eval: $::Tls
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- error_log
upstream SSL certificate verify error: (23:certificate revoked) while SSL handshaking to upstream



=== TEST 33: tls: llm_ssl_session_reuse off: every connection is a full
handshake
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_session_reuse off;
    }
--- user_files eval: $::Tls
--- request eval
["POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Chat"]
--- response_body_like eval
['"reused":"\."', '"reused":"\."']
--- no_error_log
[error]



=== TEST 34: tls: llm_ssl_session_reuse on (the default): the second
connection resumes the session
--- http_config eval
$::TlsMock . <<'_EOC_'
    llm_provider tls type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=llm.test key=none;
    llm_route gpt-4o tls;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate ../html/llm.crt;
        llm_ssl_session_reuse on;
    }
--- user_files eval: $::Tls
--- request eval
["POST /v1/chat/completions\n$::Chat", "POST /v1/chat/completions\n$::Chat"]
--- response_body_like eval
['"reused":"[.r]"', '"reused":"r"']
--- no_error_log
[error]



=== TEST 35: llm_provider: unknown type
--- http_config
    llm_provider p type=anthropicx upstream=127.0.0.1:1 key=none;
--- must_die
--- error_log
[emerg]
unknown llm provider type "anthropicx"



=== TEST 36: llm_provider: no type
--- http_config
    llm_provider p upstream=127.0.0.1:1 key=none;
--- must_die
--- error_log
[emerg]
llm_provider "p" must have "type" parameter



=== TEST 37: llm_provider: no upstream
--- http_config
    llm_provider p type=openai key=none;
--- must_die
--- error_log
[emerg]
llm_provider "p" must have "upstream" parameter



=== TEST 38: llm_provider: empty upstream
--- http_config
    llm_provider p type=openai upstream= key=none;
--- must_die
--- error_log
[emerg]
llm_provider "p" must have "upstream" parameter



=== TEST 39: llm_provider: upstream without a port and no upstream{}
--- http_config
    llm_provider p type=openai upstream=nowhere key=none;
--- must_die
--- error_log
[emerg]
no port in upstream "nowhere"



=== TEST 40: llm_provider: upstream with a bad port
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:99999 key=none;
--- must_die
--- error_log
[emerg]
invalid port in upstream "127.0.0.1:99999"



=== TEST 41: llm_provider: duplicate name
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none;
    llm_provider p type=vllm upstream=127.0.0.1:2;
--- must_die
--- error_log
[emerg]
duplicate llm_provider "p"



=== TEST 42: llm_provider: name with a space
--- http_config
    llm_provider "a b" type=openai upstream=127.0.0.1:1 key=none;
--- must_die
--- error_log
[emerg]
invalid llm_provider name "a b"



=== TEST 43: llm_provider: name with a colon, which no route could name
--- http_config
    llm_provider openai:eu type=openai upstream=127.0.0.1:1 key=none;
--- must_die
--- error_log
[emerg]
invalid llm_provider name "openai:eu"



=== TEST 44: llm_provider: unknown parameter
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none timeout=5s;
--- must_die
--- error_log
[emerg]
invalid parameter "timeout=5s"



=== TEST 45: llm_provider: a flag that is almost "tls"
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none tlsv1;
--- must_die
--- error_log
[emerg]
invalid parameter "tlsv1"



=== TEST 46: llm_provider: empty host=
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none host=;
--- must_die
--- error_log
[emerg]
invalid parameter "host="



=== TEST 47: llm_provider: host= with a space
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none "host=a b";
--- must_die
--- error_log
[emerg]
invalid parameter "host=a b"



=== TEST 48: llm_provider: base= not starting with a slash
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none base=v1;
--- must_die
--- error_log
[emerg]
invalid parameter "base=v1"



=== TEST 49: llm_provider: base= with a query string
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none
                 base=/v1?api-version=1;
--- must_die
--- error_log
[emerg]
invalid parameter "base=/v1?api-version=1"



=== TEST 50: llm_provider: header= without a colon
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none header=X-Foo;
--- must_die
--- error_log
[emerg]
invalid header "X-Foo" in llm_provider "p", use header=Name:value



=== TEST 51: llm_provider: header= without a name
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none header=:v;
--- must_die
--- error_log
[emerg]
invalid header ":v" in llm_provider "p", use header=Name:value



=== TEST 52: llm_provider: header= with a space in the name
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none
                 "header=X Foo:v";
--- must_die
--- error_log
[emerg]
invalid header "X Foo:v" in llm_provider "p", use header=Name:value



=== TEST 53: llm_provider: header= with a line break in the value
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none
                 "header=X-Foo:a\nInjected: b";
--- must_die
--- error_log
[emerg]
invalid header "X-Foo:a
Injected: b" in llm_provider "p", use header=Name:value



=== TEST 54: llm_provider: max_tokens= that is not a positive number
--- http_config
    llm_provider p type=anthropic upstream=127.0.0.1:1 key=none max_tokens=0;
--- must_die
--- error_log
[emerg]
invalid parameter "max_tokens=0"



=== TEST 55: llm_provider: max_tokens= for a passthrough type
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none max_tokens=1024;
--- must_die
--- error_log
[emerg]
"max_tokens" of llm_provider "p" is only for translated types such as anthropic



=== TEST 56: llm_provider: empty version=
--- http_config
    llm_provider p type=anthropic upstream=127.0.0.1:1 key=none version=;
--- must_die
--- error_log
[emerg]
invalid parameter "version="



=== TEST 57: llm_provider: empty beta=
--- http_config
    llm_provider p type=anthropic upstream=127.0.0.1:1 key=none beta=;
--- must_die
--- error_log
[emerg]
invalid parameter "beta="



=== TEST 58: llm_provider: beta= for another type than anthropic
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none
                 beta=prompt-caching-2024-07-31;
--- must_die
--- error_log
[emerg]
"beta" of llm_provider "p" is only for type=anthropic



=== TEST 59: llm_provider: no key for a type that needs one
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1;
--- must_die
--- error_log
[emerg]
llm_provider "p" of type "openai" needs "key=env:NAME", "key=file:PATH" or "key=none"



=== TEST 60: llm_provider: unknown key source
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=vault:openai;
--- must_die
--- error_log
[emerg]
invalid key source "vault:openai" in llm_provider "p", use env:NAME, file:PATH or none



=== TEST 61: llm_provider: key=env: without a name
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=env:;
--- must_die
--- error_log
[emerg]
invalid key source "env:" in llm_provider "p", use env:NAME, file:PATH or none



=== TEST 62: llm_provider: environment variable not set
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=env:LLM_TEST_UNSET;
--- must_die
--- error_log
[emerg]
environment variable "LLM_TEST_UNSET" for llm_provider "p" is not set



=== TEST 63: llm_provider: environment variable set but empty
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=env:LLM_TEST_EMPTY;
--- must_die
--- error_log
[emerg]
environment variable "LLM_TEST_EMPTY" for llm_provider "p" is not set



=== TEST 64: llm_provider: environment variable of blanks only
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=env:LLM_TEST_BLANK;
--- must_die
--- error_log
[emerg]
empty key for llm_provider "p"



=== TEST 65: llm_provider: key file that cannot be opened
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1
                 key=file:/nonexistent/llm.key;
--- must_die
--- error_log
[emerg]
open() "/nonexistent/llm.key" failed (2: No such file or directory)



=== TEST 66: llm_provider: empty key file
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=file:../html/empty.key;
--- user_files eval
">>> empty.key\n \n\n"
--- must_die
--- error_log
[emerg]
empty key for llm_provider "p"



=== TEST 67: llm_provider: key file of 8 KB or more
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=file:../html/big.key;
--- user_files eval
">>> big.key\n" . ('k' x 8192)
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*key file "\S+/html/big\.key" is too large}]



=== TEST 68: llm_provider: key with a control character
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=file:../html/ctrl.key;
--- user_files eval
">>> ctrl.key\nsk-a\tb\n"
--- must_die
--- error_log
[emerg]
invalid character in the key for llm_provider "p"



=== TEST 69: llm_route: to an unknown provider, with its file and line
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route gpt-4o mock;
llm_route claude nope;
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*: unknown llm provider "nope" in llm_route "claude" in \S+/html/routes\.conf:2$}]



=== TEST 70: llm_route: unknown provider of a second target
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
# gpt
llm_route ~^gpt- mock:gpt-4o weight=2
                 backup:gpt-4o;
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*: unknown llm provider "backup" in llm_route "~\^gpt-" in \S+/html/routes\.conf:3$}]



=== TEST 71: llm_route: duplicate exact route, at the second one
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route gpt-4o mock;
llm_route gpt-4o-mini mock;
llm_route gpt-4o mock:other;
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*: duplicate llm_route "gpt-4o" in \S+/html/routes\.conf:3$}]



=== TEST 72: llm_route: exact routes that differ only in case
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route GPT-4o mock;
llm_route gpt-4o mock;
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*: llm_route "gpt-4o" differs from another only in case in \S+/html/routes\.conf:2$}]



=== TEST 73: llm_route: second default
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    include ../html/routes.conf;
--- user_files
>>> routes.conf
llm_route default mock;
llm_route gpt-4o mock;
llm_route default mock:other;
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*: duplicate default llm_route in \S+/html/routes\.conf:3$}]



=== TEST 74: llm_route: bad regular expression
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route ~^gpt-(4o mock;
--- must_die
--- error_log
[emerg]
pcre2_compile() failed: missing closing parenthesis in "^gpt-(4o"



=== TEST 75: llm_route: "~*" without a regular expression
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route ~* mock;
--- must_die
--- error_log eval
["[emerg]",
 qr{\[emerg\] .*: empty regular expression in llm_route "~\*" in \S+nginx\.conf:\d+$}]



=== TEST 76: llm_route: more than 9 captures
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route ~(a)(b)(c)(d)(e)(f)(g)(h)(i)(j) mock;
--- must_die
--- error_log
[emerg]
too many captures in "~(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", at most 9



=== TEST 77: llm_route: model name with a quote
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route 'gpt"4o' mock;
--- must_die
--- error_log
[emerg]
invalid model name "gpt"4o"



=== TEST 78: llm_route: no target
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o;
--- must_die
--- error_log
[emerg]
invalid number of arguments in "llm_route" directive



=== TEST 79: llm_route: weight before any target
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o weight=2 mock;
--- must_die
--- error_log
[emerg]
invalid parameter "weight=2"



=== TEST 80: llm_route: weight 0
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock weight=0;
--- must_die
--- error_log
[emerg]
invalid weight "weight=0", expected 1..1000



=== TEST 81: llm_route: weight over 1000
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock weight=1001;
--- must_die
--- error_log
[emerg]
invalid weight "weight=1001", expected 1..1000



=== TEST 82: llm_route: weight that is not a number
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock weight=high;
--- must_die
--- error_log
[emerg]
invalid weight "weight=high", expected 1..1000



=== TEST 83: llm_route: unknown parameter
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock colour=red;
--- must_die
--- error_log
[emerg]
invalid parameter "colour=red"



=== TEST 84: llm_route: target with an empty model
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock:;
--- must_die
--- error_log
[emerg]
invalid parameter "mock:"



=== TEST 85: llm_route: target with an empty provider
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o :gpt-4o;
--- must_die
--- error_log
[emerg]
invalid parameter ":gpt-4o"



=== TEST 86: llm_route: target model with a quote
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o 'mock:gpt"4o';
--- must_die
--- error_log
[emerg]
invalid parameter "mock:gpt"4o"



=== TEST 87: llm_pass: duplicate
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_pass chat;
    }
--- must_die
--- error_log
[emerg]
"llm_pass" directive is duplicate



=== TEST 88: llm_pass: bad value
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass completions;
    }
--- must_die
--- error_log
[emerg]
invalid value "completions" in "llm_pass" directive



=== TEST 89: llm_pass: not in the server context
--- config
    llm_pass;
--- must_die
--- error_log
[emerg]
"llm_pass" directive is not allowed here



=== TEST 90: llm_route: not in a location
--- config
    location /v1/ {
        llm_route gpt-4o mock;
    }
--- must_die
--- error_log
[emerg]
"llm_route" directive is not allowed here



=== TEST 91: llm_buffer_size under 1k
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:1 key=none;
    llm_route gpt-4o mock;
--- config
    location /v1/ {
        llm_pass;
        llm_buffer_size 512;
    }
--- must_die
--- error_log
[emerg]
"llm_buffer_size" must be at least 1k



=== TEST 92: llm_next_upstream: bad value
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error http_418;
    }
--- must_die
--- error_log
[emerg]
invalid value "http_418"



=== TEST 93: tls: llm_ssl_verify with an empty llm_ssl_trusted_certificate
--- http_config
    llm_provider tls type=openai upstream=127.0.0.1:1 tls key=none;
    llm_route gpt-4o tls;
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate "";
    }
--- must_die
--- error_log
[emerg]
no llm_ssl_trusted_certificate for llm_ssl_verify



=== TEST 94: tls: llm_ssl_trusted_certificate that does not exist
--- http_config
    llm_provider tls type=openai upstream=127.0.0.1:1 tls key=none;
    llm_route gpt-4o tls;
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate /nonexistent/ca.pem;
    }
--- must_die
--- error_log
[emerg]
SSL_CTX_load_verify_locations("/nonexistent/ca.pem") failed



=== TEST 95: llm_provider: header= may not set a framing header
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none
                 header=content-length:5;
--- must_die
--- error_log
[emerg]
header "Content-Length" in llm_provider "p" is set by the module



=== TEST 96: llm_provider: header= may not set Host
--- http_config
    llm_provider p type=openai upstream=127.0.0.1:1 key=none header=Host:x;
--- must_die
--- error_log
[emerg]
header "Host" in llm_provider "p" is set by the module
