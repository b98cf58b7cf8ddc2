# Upstream faults after a stream's header reached the client (the B3
# fault matrix, rows 14-18 and 23): the upstream resets the connection
# after some events, closes it without the terminating chunk, sends
# invalid chunk framing, stalls past llm_read_timeout, or sends an event
# over llm_max_event_size.  The client's stream must end properly (the
# last chunk) with one final error event in its own format, no [DONE]
# after it, no second answer, and one [error] line that says why.
#
# tcp_listen/tcp_reply cover the faults of a closed or garbled body; a
# server forked here resets its connections (SO_LINGER 0) after a few
# events, which tcp_reply cannot do.

use Test::Nginx::Socket 'no_plan';

use IO::Socket::INET ();
use Socket qw(SOL_SOCKET SO_LINGER);
use POSIX ();
use Time::HiRes ();

our $ParentPid = $$;
our $ResetPid;

# --- the stream events ------------------------------------------------------

our @OaiEvents = (
    '{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    . '"delta":{"role":"assistant","content":"Hel"}}]}',
    '{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    . '"delta":{"content":"lo"}}]}',
);

our @AntEvents = (
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
    . '{"id":"msg_1","type":"message","role":"assistant","model":'
    . '"claude-sonnet-4-5","content":[],"stop_reason":null,'
    . "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\","
    . "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    . "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
);

sub oai_sse { join '', map { "data: $_\n\n" } @_ }

sub chunk { join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_ }

our $Head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            . "Transfer-Encoding: chunked\r\n\r\n";

our $Broke = "The model provider's stream failed before it was complete.";
our $Timed = 'The model provider timed out in the middle of the stream.';

# the error event of each client format
sub oai_err {
    return "data: {\"error\":{\"message\":\"$_[0]\",\"type\":\"api_error\","
           . "\"param\":null,\"code\":\"upstream_error\"}}\n\n";
}

sub ant_err {
    return "event: error\ndata: {\"type\":\"error\",\"error\":"
           . "{\"type\":\"api_error\",\"message\":\"$_[0]\"}}\n\n";
}

# a translated stream: whatever came before, the error event last, and
# no [DONE] and no message_stop anywhere
sub tail_re {
    my $err = shift;
    return qr/\A(?!.*\[DONE\])(?!.*message_stop).*\Q$err\E\z/s;
}

our $Chat = '{"model":"gpt-4o","stream":true,'
            . '"messages":[{"role":"user","content":"hi"}]}';
our $ChatClaude = '{"model":"claude","stream":true,'
                  . '"messages":[{"role":"user","content":"hi"}]}';
our $Msg = '{"model":"%s","max_tokens":100,"stream":true,'
           . '"messages":[{"role":"user","content":"hi"}]}';

# --- a provider that resets its connections after a few events -------------

{
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Proto => 'tcp', Listen => 16,
                                    ReuseAddr => 1)
        or die "reset server: $!";

    $ENV{TEST_NGINX_RESET_PORT} = $srv->sockport;

    $ResetPid = fork();
    die "fork: $!" if !defined $ResetPid;

    if ($ResetPid == 0) {
        $SIG{PIPE} = 'IGNORE';

        while (my $c = $srv->accept) {
            my $req = '';

            while ($req !~ /\r\n\r\n/) {
                my $n = sysread($c, $req, 4096, length $req);
                last if !$n;
            }

            my ($len) = $req =~ /Content-Length: (\d+)/i;
            my $want = index($req, "\r\n\r\n") + 4 + ($len // 0);

            while (length $req < $want) {
                my $n = sysread($c, $req, 4096, length $req);
                last if !$n;
            }

            my $body = $req =~ m{^POST /v1/messages}
                       ? chunk(@AntEvents) : chunk(map { oai_sse($_) }
                                                   @OaiEvents);

            syswrite($c, $Head . $body);

            # the events are read and forwarded, then the reset
            Time::HiRes::sleep(0.1);

            setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
            close $c;
        }

        POSIX::_exit(0);
    }

    close $srv;
}

END {
    local $?;

    if ($$ == $ParentPid && $ResetPid) {
        kill 'TERM', $ResetPid;
        waitpid($ResetPid, 0);
    }
}

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    llm_provider mock type=openai upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1
                 key=none;
    llm_provider claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RAND_PORT_1 key=none;
    llm_provider rst type=openai upstream=127.0.0.1:$TEST_NGINX_RESET_PORT
                 key=none;
    llm_provider rst-claude type=anthropic
                 upstream=127.0.0.1:$TEST_NGINX_RESET_PORT key=none;
    llm_route claude claude:claude-sonnet-4-5;
    llm_route rst rst:gpt-4o;
    llm_route rst-claude rst-claude:claude-sonnet-4-5;
    llm_route default mock;
_EOC_
    }

    if (!defined $block->config || $block->config !~ /\bllm_pass\b/) {
        $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location /v1/ {
        llm_pass;
        llm_read_timeout 200ms;
    }
_EOC_
    }

    if (defined $block->tcp_listen && !defined $block->tcp_query
        && !defined $block->tcp_query_len)
    {
        $block->set_value('tcp_query_auto_timeout', '0.05');
    }

    if (!defined $block->grep_error_log) {
        $block->set_value('grep_error_log', qr/\[error\]/);
        $block->set_value('grep_error_log_out', "[error]\n");
    }
});

env_to_nginx('TEST_NGINX_RESET_PORT');

run_tests();

__DATA__

=== TEST 1: passthrough: the connection closes without the terminating
chunk after two events: the events, then the error event, the last chunk
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $::Head . ::chunk(map { ::oai_sse($_) } @::OaiEvents)
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse(@::OaiEvents) . ::oai_err($::Broke)
--- error_log
upstream prematurely closed connection



=== TEST 2: passthrough: the connection closes in the middle of a chunk
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk(::oai_sse($::OaiEvents[0]))
. sprintf("%x\r\n", 200) . substr(::oai_sse($::OaiEvents[1]), 0, 30)
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse($::OaiEvents[0]) . ::oai_err($::Broke)
--- error_log
upstream prematurely closed connection



=== TEST 3: passthrough: invalid chunk framing after one event
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk(::oai_sse($::OaiEvents[0])) . "zz\r\ngarbage\r\n"
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse($::OaiEvents[0]) . ::oai_err($::Broke)
--- error_log
upstream sent invalid chunked response



=== TEST 4: passthrough: the upstream stalls after one event, past
llm_read_timeout
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
$::Head . ::chunk(::oai_sse($::OaiEvents[0]))
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse($::OaiEvents[0]) . ::oai_err($::Timed)
--- error_log
upstream timed out



=== TEST 5: passthrough: the upstream resets the connection after two
events
--- request eval
"POST /v1/chat/completions\n" . ($::Chat =~ s/gpt-4o/rst/r)
--- error_code: 200
--- response_body eval
::oai_sse(@::OaiEvents) . ::oai_err($::Broke)
--- error_log
Connection reset by peer



=== TEST 6: passthrough: an event over llm_max_event_size
--- config
    location /v1/ {
        llm_pass;
        llm_read_timeout 200ms;
        llm_max_event_size 64;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk(::oai_sse('{"a":1}'), ::oai_sse('{"b":"' . ('x' x 100)
. '"}'), ::oai_sse('{"c":3}')) . "0\r\n\r\n"
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse('{"a":1}') . ::oai_err($::Broke)
--- error_log
upstream sent too large SSE event



=== TEST 7: passthrough: [DONE] came, then the connection closed without
the terminating chunk: the client's stream was complete, no error event
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk(map { ::oai_sse($_) } @::OaiEvents, '[DONE]')
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse(@::OaiEvents, '[DONE]')
--- error_log
upstream prematurely closed connection



=== TEST 8: passthrough: the stream ends well: no error event, no [error]
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk(map { ::oai_sse($_) } @::OaiEvents, '[DONE]')
. "0\r\n\r\n"
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse(@::OaiEvents, '[DONE]')
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 9: OpenAI client of an Anthropic provider: closed without the
terminating chunk
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $::Head . ::chunk(@::AntEvents)
--- request eval
"POST /v1/chat/completions\n$::ChatClaude"
--- error_code: 200
--- response_body_like eval
::tail_re(::oai_err($::Broke))
--- error_log
upstream prematurely closed connection



=== TEST 10: OpenAI client of an Anthropic provider: the text so far,
then the error chunk
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $::Head . ::chunk(@::AntEvents) . "zz\r\n"
--- request eval
"POST /v1/chat/completions\n$::ChatClaude"
--- error_code: 200
--- response_body_like eval
qr/"content":"Hel"[^\n]*\n\n\Q${\ ::oai_err($::Broke)}\E\z/s
--- error_log
upstream sent invalid chunked response



=== TEST 11: OpenAI client of an Anthropic provider: stall
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval: $::Head . ::chunk(@::AntEvents)
--- request eval
"POST /v1/chat/completions\n$::ChatClaude"
--- error_code: 200
--- response_body_like eval
::tail_re(::oai_err($::Timed))
--- error_log
upstream timed out



=== TEST 12: OpenAI client of an Anthropic provider: reset
--- request eval
"POST /v1/chat/completions\n" . ($::ChatClaude =~ s/claude/rst-claude/r)
--- error_code: 200
--- response_body_like eval
::tail_re(::oai_err($::Broke))
--- error_log
Connection reset by peer



=== TEST 13: Anthropic client of an Anthropic provider: closed without
the terminating chunk
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: $::Head . ::chunk(@::AntEvents)
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'claude')
--- error_code: 200
--- response_body_like eval
::tail_re(::ant_err($::Broke))
--- error_log
upstream prematurely closed connection



=== TEST 14: Anthropic client of an Anthropic provider: reset
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'rst-claude')
--- error_code: 200
--- response_body_like eval
::tail_re(::ant_err($::Broke))
--- error_log
Connection reset by peer



=== TEST 15: Anthropic client of an Anthropic provider: stall
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval: $::Head . ::chunk(@::AntEvents)
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'claude')
--- error_code: 200
--- response_body_like eval
::tail_re(::ant_err($::Timed))
--- error_log
upstream timed out



=== TEST 16: Anthropic client of an OpenAI provider: invalid framing
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk(::oai_sse($::OaiEvents[0])) . "zz\r\n"
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'gpt-4o')
--- error_code: 200
--- response_body_like eval
::tail_re(::ant_err($::Broke))
--- error_log
upstream sent invalid chunked response



=== TEST 17: Anthropic client of an OpenAI provider: reset
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'rst')
--- error_code: 200
--- response_body_like eval
::tail_re(::ant_err($::Broke))
--- error_log
Connection reset by peer



=== TEST 18: Anthropic client, an event over llm_max_event_size
--- config
    location /v1/ {
        llm_pass;
        llm_max_event_size 256;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
$::Head . ::chunk($::AntEvents[0] . $::AntEvents[1]
. 'data: {"x":"' . ('x' x 400) . "\"}\n\n") . "0\r\n\r\n"
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'claude')
--- error_code: 200
--- response_body_like eval
::tail_re(::ant_err($::Broke))
--- error_log
upstream sent too large SSE event
