# The three timers of an attempt, and a client that goes away.
#
#   llm_first_token_timeout   from the request sent until the first bytes
#                             of the answer's body (a stream's first
#                             event; all of an answer held whole)
#   llm_read_timeout          between two reads after that: the idle gap
#                             between stream events
#   llm_attempt_timeout       the whole attempt, from its request built
#
# Before the answer's first byte reached the client a timer that fires
# moves the request to the fallback; after it, the client's stream ends
# with an error event.  A client that disconnects in the middle of a
# stream ends the upstream request: the mock (t/LLMFault.pm, fault
# "slow": an event every 100 ms for 5 s) says how long its connection
# lasted.

use Test::Nginx::Socket 'no_plan';
use t::LLMFault;
use IO::Socket::INET ();

t::LLMFault::start();

our $First = t::LLMFault::sse($t::LLMFault::First);
our $Good = $t::LLMFault::Good;

our $Timed = 'data: {"error":{"message":"The model provider timed out in '
             . 'the middle of the stream.","type":"api_error","param":null,'
             . '"code":"upstream_error"}}' . "\n\n";

sub req {
    return "POST /v1/chat/completions\n"
           . '{"model":"' . $_[0] . '",' . ($_[1] ? '"stream":true,' : '')
           . '"messages":[{"role":"user","content":"hi"}]}';
}

# a client of its own: the stream request, N events read, then close
sub disconnect_after_events {
    my $n = shift;
    my $body = '{"model":"slow","stream":true,'
               . '"messages":[{"role":"user","content":"hi"}]}';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Timeout => 2)
        or die "connect: $!";
    print $s "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my ($got, $t0) = ('', time);
    while (time - $t0 < 3) {
        my $buf;
        last if !sysread($s, $buf, 4096);
        $got .= $buf;
        my $events = () = $got =~ /data: /g;
        last if $events >= $n;
    }
    close $s;
}

no_shuffle();
repeat_each(1);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llm_provider late type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/late;
    llm_provider slow type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/slow;
    llm_provider stall type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/stall0;
    llm_provider good type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/good;
    llm_route late late:gpt-4o;
    llm_route slow slow:gpt-4o;
    llm_route stall stall:gpt-4o fallback=good:gpt-4o-mini;
    llm_provider comments type=openai host=localhost key=none
        upstream=127.0.0.1:$TEST_NGINX_FAULT_PORT base=/comments;
    llm_route comments comments:gpt-4o fallback=good:gpt-4o-mini;
_EOC_

    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]")
        unless defined $block->no_error_log;
});

env_to_nginx('TEST_NGINX_FAULT_PORT');

run_tests();

__DATA__

=== TEST 1: llm_read_timeout alone: no first event within it, an error event
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 300ms;
    }
--- request eval
::req('late', 1)
--- timeout: 3
--- error_code: 200
--- response_body eval
$::Timed
--- error_log
upstream timed out



=== TEST 2: llm_first_token_timeout 1s waits for the first event (600 ms);
the idle gap after it (600 ms) is over llm_read_timeout: an error event
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 300ms;
        llm_first_token_timeout 1s;
    }
--- request eval
::req('late', 1)
--- timeout: 3
--- error_code: 200
--- response_body eval
$::First . $::Timed
--- error_log
upstream timed out



=== TEST 3: both long enough: the whole stream
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 1s;
        llm_first_token_timeout 1s;
    }
--- request eval
::req('late', 1)
--- timeout: 3
--- error_code: 200
--- response_body eval
$::First . "data: [DONE]\n\n"
--- no_error_log
[error]



=== TEST 4: llm_first_token_timeout before the answer: the fallback, at once
(the primary stalls 1.5 s; llm_read_timeout 5s would wait it out)
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
        llm_first_token_timeout 300ms;
        add_header X-Fb "$llm_attempts|$llm_fallback_reason" always;
    }
--- request eval
::req('stall', 0)
--- timeout: 1.2
--- error_code: 200
--- response_headers
X-Fb: 2|timeout from stall
--- response_body eval
$::Good
--- error_log
upstream timed out



=== TEST 5: llm_attempt_timeout ends a stream that goes on too long
--- config
    location /v1/ {
        llm_pass;
        llm_attempt_timeout 450ms;
    }
--- request eval
::req('slow', 1)
--- timeout: 2
--- error_code: 200
--- response_body_like eval
qr/\A(?:\Q$::First\E){1,9}\Q$::Timed\E\z/
--- error_log
llm attempt took longer than llm_attempt_timeout
upstream timed out



=== TEST 6: llm_attempt_timeout before the answer: the fallback
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 5s;
        llm_attempt_timeout 400ms;
        add_header X-Fb "$llm_attempts|$llm_fallback_reason" always;
    }
--- request eval
::req('stall', 0)
--- timeout: 1.2
--- error_code: 200
--- response_headers
X-Fb: 2|timeout from stall
--- response_body eval
$::Good



=== TEST 7: llm_attempt_timeout of a stream that ends in time: no effect
--- config
    location /v1/ {
        llm_pass;
        llm_attempt_timeout 3s;
    }
--- request eval
::req('late', 1)
--- timeout: 3
--- error_code: 200
--- response_body eval
$::First . "data: [DONE]\n\n"
--- no_error_log
[error]
llm attempt took longer



=== TEST 8: a stream with a fallback waits for its first event; keep-alive
comments before it (every 200 ms for 1 s) reset llm_read_timeout (600
ms), and llm_first_token_timeout (600 ms) is met by them
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 600ms;
        llm_first_token_timeout 600ms;
        add_header X-Fb "$llm_attempts|$llm_fallback_reason" always;
    }
--- request eval
::req('comments', 1)
--- timeout: 3
--- error_code: 200
--- response_headers
X-Fb: 1|
X-LLM-Provider: comments
--- response_body eval
$::First . "data: [DONE]\n\n"
--- no_error_log
[error]
[warn]



=== TEST 8: the client goes away after two events: the upstream connection
is closed right after it (the mock's report, 400 ms later)
--- init
unlink "$t::LLMFault::Dir/slow.txt";
::disconnect_after_events(2);
--- config
    location /v1/ {
        llm_pass;
    }
    location = /report {
        echo_sleep 0.4;
        echo_location /slow.txt;
    }
    location = /slow.txt {
        alias $TEST_NGINX_FAULT_DIR/slow.txt;
    }
--- request
GET /report
--- error_code: 200
--- response_body_like: \Aclosed after (?:[1-9]\d\d|1[01]\d\d) ms\n\z
--- no_error_log
[error]



=== TEST 9: llm_first_token_timeout: an invalid time fails nginx -t
--- config
    location /v1/ {
        llm_pass;
        llm_first_token_timeout 10parsecs;
    }
--- request
GET /
--- must_die
--- no_error_log
[alert]
--- error_log eval
qr/"llm_first_token_timeout" directive invalid value in .*nginx\.conf:\d+/



=== TEST 10: llm_attempt_timeout: twice in a location fails nginx -t
--- config
    location /v1/ {
        llm_pass;
        llm_attempt_timeout 10s;
        llm_attempt_timeout 20s;
    }
--- request
GET /
--- must_die
--- no_error_log
[alert]
--- error_log eval
qr/"llm_attempt_timeout" directive is duplicate in .*nginx\.conf:\d+/
