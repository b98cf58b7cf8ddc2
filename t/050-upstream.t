# The upstream side: keepalive connections to providers, TLS (SNI,
# certificate verification, protocols, session reuse), llm_next_upstream
# and the timeouts.
#
# The TLS mock is a server{} in http_config with the test certificate of
# t/cert ("api.test.local", signed by t/cert/ca.pem).

use Cwd ();
use File::Basename ();

BEGIN {
    $ENV{TEST_NGINX_CERT_DIR} ||= Cwd::abs_path(
        File::Basename::dirname(__FILE__) . '/cert');
}

use Test::Nginx::Socket 'no_plan';

use IO::Socket::INET ();
use Socket qw(AF_INET SOCK_STREAM inet_aton pack_sockaddr_in
              unpack_sockaddr_in);

# A listening socket that never accepts, its backlog of 0 filled by one
# connection: a connect() to it hangs, for llm_connect_timeout.  Both live
# as long as the test file.
our ($Blackhole, $BlackholeClient);

{
    socket($Blackhole, AF_INET, SOCK_STREAM, 0) or die "socket: $!";
    bind($Blackhole, pack_sockaddr_in(0, inet_aton('127.0.0.1')))
        or die "bind: $!";
    listen($Blackhole, 0) or die "listen: $!";

    my ($port) = unpack_sockaddr_in(getsockname($Blackhole));

    $BlackholeClient = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                             PeerPort => $port,
                                             Proto => 'tcp', Timeout => 1)
        or die "blackhole connect: $!";

    $ENV{TEST_NGINX_BLACKHOLE_PORT} = $port;
}

our $Chat = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
our $Stream = '{"model":"gpt-4o","stream":true,'
              . '"messages":[{"role":"user","content":"hi"}]}';

our $Done = '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';

# larger than the 16 KB SSL buffer
our $Big = '{"model":"gpt-4o","messages":[{"role":"user","content":"'
           . ('0123456789abcdef' x 4096) . '"}]}';

our $Tls = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name api.test.local;

        ssl_certificate $TEST_NGINX_CERT_DIR/server.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;

        location = /v1/chat/completions {
            default_type application/json;
            return 200 '{"id":"chatcmpl-tls","object":"chat.completion","sni":"$ssl_server_name","host":"$host","proto":"$ssl_protocol","reused":"$ssl_session_reused","choices":[]}';
        }
    }
_EOC_

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // '';

    if ($http =~ /^\s*tls_mock\s*$/) {
        $block->set_value('http_config', $::Tls . <<'_EOC_');
    llm_provider secure type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=api.test.local key=none;
    llm_route default secure;
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: keepalive: the upstream connection is reused (non-stream)
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        keepalive 4;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
    }

    location = /mock/chat/completions {
        add_header X-Request-Id "requests=$connection_requests";
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- response_headers_like eval
["X-Request-Id: requests=\\d+",
 "X-Request-Id: requests=(?:[2-9]|\\d\\d+)",
 "X-Request-Id: requests=(?:[3-9]|\\d\\d+)"]
--- response_body eval
["$::Done", "$::Done", "$::Done"]
--- no_error_log
[error]



=== TEST 2: keepalive: the upstream connection is reused after a stream
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        keepalive 4;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
    }

    location = /mock/chat/completions {
        add_header X-Request-Id "requests=$connection_requests";
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}';
        echo;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
["POST /v1/chat/completions\n$::Stream",
 "POST /v1/chat/completions\n$::Stream"]
--- response_headers_like eval
["X-Request-Id: requests=\\d+",
 "X-Request-Id: requests=(?:[2-9]|\\d\\d+)"]
--- response_body eval
['data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}

data: [DONE]

',
'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}

data: [DONE]

']
--- no_error_log
[error]



=== TEST 3: no keepalive directive: a new upstream connection each time
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
    }

    location = /mock/chat/completions {
        add_header X-Request-Id "requests=$connection_requests";
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- response_headers eval
["X-Request-Id: requests=1",
 "X-Request-Id: requests=1",
 "X-Request-Id: requests=1"]
--- response_body eval
["$::Done", "$::Done", "$::Done"]
--- no_error_log
[error]



=== TEST 4: TLS: verified against llm_ssl_trusted_certificate, SNI = host=
--- http_config
tls_mock
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like chomp
^\{"id":"chatcmpl-tls","object":"chat.completion","sni":"api\.test\.local","host":"api\.test\.local","proto":"TLSv1\.3","reused":"[.r]","choices":\[\]\}$
--- response_headers
X-LLM-Provider: secure
--- no_error_log
[error]



=== TEST 5: TLS: the certificate does not match host=: 502 as JSON
--- http_config eval
$::Tls . <<'_EOC_';
    llm_provider secure type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=wrong.test.local key=none;
    llm_route default secure;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log
upstream SSL certificate does not match "wrong.test.local" while SSL handshaking to upstream



=== TEST 6: TLS: a CA not in the trusted bundle: 502 as JSON
--- http_config
tls_mock
--- config
    location /v1/ {
        llm_pass;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log eval
qr/upstream SSL certificate verify error: \(\d+:[^)]+\) while SSL handshaking to upstream/



=== TEST 7: TLS: llm_ssl_verify off accepts any certificate
--- http_config eval
$::Tls . <<'_EOC_';
    llm_provider secure type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 tls host=wrong.test.local key=none;
    llm_route default secure;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_verify off;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like chomp
^\{"id":"chatcmpl-tls","object":"chat.completion","sni":"wrong\.test\.local","host":"wrong\.test\.local",
--- no_error_log
[error]



=== TEST 8: TLS: llm_ssl_server_name off sends no SNI, still verifies
--- http_config
tls_mock
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
        llm_ssl_server_name off;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like chomp
^\{"id":"chatcmpl-tls","object":"chat.completion","sni":"","host":"api\.test\.local",
--- no_error_log
[error]



=== TEST 9: TLS: llm_ssl_protocols
--- http_config
tls_mock
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
        llm_ssl_protocols TLSv1.2;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like chomp
"proto":"TLSv1\.2"
--- no_error_log
[error]



=== TEST 10: TLS: sessions are reused by default
--- http_config
tls_mock
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- response_body_like eval
['"reused":"[.r]"', '"reused":"r"']
--- no_error_log
[error]



=== TEST 11: TLS: llm_ssl_session_reuse off
--- http_config
tls_mock
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
        llm_ssl_session_reuse off;
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- response_body_like eval
['"reused":"\."', '"reused":"\."']
--- no_error_log
[error]



=== TEST 12: TLS: a stream over TLS
--- http_config eval
$::Tls . <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name api.test.local;

        ssl_certificate $TEST_NGINX_CERT_DIR/server.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;

        location = /v1/chat/completions {
            default_type text/event-stream;
            echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"$ssl_server_name"},"finish_reason":null}]}';
            echo;
            echo_flush;
            echo 'data: [DONE]';
            echo;
        }
    }

    llm_provider secure type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_2
                 tls host=api.test.local key=none;
    llm_route default secure;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
    }
--- request eval
"POST /v1/chat/completions\n$::Stream"
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"api.test.local"},"finish_reason":null}]}

data: [DONE]

'
--- no_error_log
[error]



=== TEST 13: TLS: keepalive connections to the provider are reused
--- http_config eval
$::Tls =~ s/"choices"/"requests":"\$connection_requests","choices"/r
. <<'_EOC_';
    upstream secure {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 2;
    }

    llm_provider secure type=openai upstream=secure tls host=api.test.local
                 key=none;
    llm_route default secure;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
    }
--- request eval
["POST /v1/chat/completions\n$::Chat",
 "POST /v1/chat/completions\n$::Chat"]
--- response_body_like eval
['"sni":"api\.test\.local",.*"requests":"\d+"',
 '"sni":"api\.test\.local",.*"requests":"(?:[2-9]|\d\d+)"']
--- no_error_log
[error]



=== TEST 14: TLS without host=: SNI and Host are the vendor's API host
--- http_config eval
$::Tls . <<'_EOC_';
    upstream openai {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    llm_provider openai type=openai upstream=openai tls key=none;
    llm_route default openai;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_verify off;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body_like chomp
^\{"id":"chatcmpl-tls","object":"chat.completion","sni":"api\.openai\.com","host":"api\.openai\.com",
--- no_error_log
[error]



=== TEST 15: TLS: a request body larger than the SSL buffer, echoed back
--- http_config eval
$::Tls =~ s{(\n        location = /v1/chat/completions)}{
        location = /echo/chat/completions {
            client_body_buffer_size 128k;
            echo_read_request_body;
            echo_request_body;
        }
$1}r
. <<'_EOC_';
    upstream secure {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 2;
    }

    llm_provider secure type=openai upstream=secure tls host=api.test.local
                 base=/echo key=none;
    llm_route default secure;
_EOC_
--- config
    location /v1/ {
        llm_pass;
        llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.pem;
    }
--- request eval
["POST /v1/chat/completions\n$::Big", "POST /v1/chat/completions\n$::Big"]
--- response_body eval
[$::Big, $::Big]
--- no_error_log
[error]
--- timeout: 3



=== TEST 16: llm_next_upstream (default): a connect error goes to the next server
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body eval
$::Done
--- grep_error_log eval: qr/\[(?:error|crit|alert)\]/
--- grep_error_log_out
[error]
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 17: llm_next_upstream off: no second server
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream off;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 18: llm_next_upstream_tries 1: no second server
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream_tries 1;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}



=== TEST 19: llm_next_upstream http_500 non_idempotent: a 500 goes to the next server
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 500 '{"error":{"message":"boom","type":"server_error"}}';
        }
    }

    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error http_500 non_idempotent;
    }

    location = /mock/chat/completions {
        add_header X-Request-Id second;
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_headers
X-Request-Id: second
X-LLM-Provider: mock
X-LLM-Model: gpt-4o
Content-Type: application/json
--- response_body eval
$::Done
--- raw_response_headers_unlike eval
qr/X-LLM-Provider:.*\r\n(?s:.*)X-LLM-Provider:/i
--- error_log
llm provider "mock" answered 500



=== TEST 20: llm_next_upstream http_500 without non_idempotent: a POST is not retried
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 500 '{"error":{"message":"boom","type":"server_error"}}';
        }
    }

    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error http_500;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 500
--- response_body
{"error":{"message":"boom","type":"server_error","param":null,"code":null}}



=== TEST 21: a 500 retried on a dead server: nginx's 502 is still JSON
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            return 500 '{"error":{"message":"boom","type":"server_error"}}';
        }
    }

    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 max_fails=0 backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_next_upstream error http_500 non_idempotent;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"message":"The model provider could not be reached or sent an invalid response.","type":"api_error","param":null,"code":"upstream_error"}}
--- error_log
connect() failed (111: Connection refused) while connecting to upstream



=== TEST 22: llm_read_timeout: 504 in time, not retried (POST)
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 150ms;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
""
--- tcp_no_close: 1
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 504
--- response_body
{"error":{"message":"The model provider did not answer in time.","type":"api_error","param":null,"code":"upstream_timeout"}}
--- error_log
upstream timed out (110: Connection timed out) while reading response header from upstream
--- timeout: 2



=== TEST 23: llm_next_upstream timeout non_idempotent: a timeout goes to the next server
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 150ms;
        llm_next_upstream timeout non_idempotent;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
""
--- tcp_no_close: 1
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- response_body eval
$::Done
--- error_log
upstream timed out (110: Connection timed out) while reading response header from upstream
--- timeout: 2



=== TEST 24: llm_next_upstream_timeout: no next server once it has passed
--- http_config
    upstream mock {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_SERVER_PORT backup;
    }

    llm_provider mock type=openai upstream=mock host=localhost base=/mock
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 150ms;
        llm_next_upstream timeout non_idempotent;
        llm_next_upstream_timeout 100ms;
    }

    location = /mock/chat/completions {
        default_type application/json;
        return 200 '{"id":"chatcmpl-1","object":"chat.completion","choices":[]}';
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
""
--- tcp_no_close: 1
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 504
--- response_body
{"error":{"message":"The model provider did not answer in time.","type":"api_error","param":null,"code":"upstream_timeout"}}
--- timeout: 2



=== TEST 25: llm_read_timeout between two stream events: the stream ends
with an error event (t/160-upstream-faults.t)
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_SERVER_PORT
                 base=/mock key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 100ms;
    }

    location = /mock/chat/completions {
        default_type text/event-stream;
        echo 'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}';
        echo;
        echo_flush;
        echo_sleep 0.3;
        echo 'data: [DONE]';
        echo;
    }
--- request eval
"POST /v1/chat/completions HTTP/1.0\n$::Stream"
--- response_body eval
'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}

data: {"error":{"message":"The model provider timed out in the middle of the stream.","type":"api_error","param":null,"code":"upstream_error"}}

'
--- error_log
upstream timed out (110: Connection timed out) while reading upstream
--- timeout: 2



=== TEST 26: llm_connect_timeout
--- http_config
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT
                 key=none;
    llm_route default mock;
--- config
    location /v1/ {
        llm_pass;
        llm_connect_timeout 100ms;
    }
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 504
--- response_body
{"error":{"message":"The model provider did not answer in time.","type":"api_error","param":null,"code":"upstream_timeout"}}
--- error_log
upstream timed out (110: Connection timed out) while connecting to upstream
--- timeout: 2
