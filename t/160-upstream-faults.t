# A provider that compresses its answer though the module asks for
# identity (B3 row 22, A6): gzip and deflate bodies are decoded, held ones
# up to llm_max_response_size, streams piece by piece with a ratio cap;
# a bomb, a truncated or invalid body, br: a clean 502 or error event.
#
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

use Compress::Raw::Zlib qw(WANT_GZIP Z_SYNC_FLUSH Z_OK);
use IO::Compress::Gzip ();
use IO::Compress::Deflate ();
use IO::Compress::RawDeflate ();
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

our @AntEnd = (
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
    . "\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
    . "{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

our $NoStream = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';

our $Completion = '{"id":"chatcmpl-1","object":"chat.completion",'
    . '"model":"gpt-4o","choices":[{"index":0,"message":'
    . '{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}';

sub gz { my ($in, $out) = shift; IO::Compress::Gzip::gzip(\$in => \$out); $out }
sub zl { my ($in, $out) = shift; IO::Compress::Deflate::deflate(\$in => \$out);
         $out }
sub rawdefl { my ($in, $out) = shift;
              IO::Compress::RawDeflate::rawdeflate(\$in => \$out); $out }

# a held answer with the given Content-Encoding
sub enc_reply {
    my ($enc, $body) = @_;
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . "Content-Encoding: $enc\r\nContent-Length: " . length($body)
           . "\r\nConnection: close\r\n\r\n$body";
}

# the events gzip-compressed as a stream, each flushed (Z_SYNC_FLUSH), one
# chunk per event; the gzip trailer in a last chunk unless $open
sub gz_stream {
    my ($open, @events) = @_;

    my ($d, $st) = Compress::Raw::Zlib::Deflate->new(-WindowBits => WANT_GZIP,
                                                     -AppendOutput => 1);
    die "deflate: $st" if $st != Z_OK;

    my @out;

    for my $e (@events) {
        my $o = '';
        $d->deflate($e, $o);
        $d->flush($o, Z_SYNC_FLUSH);
        push @out, $o;
    }

    if (!$open) {
        my $o = '';
        $d->flush($o);
        push @out, $o;
    }

    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
           . "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
           . chunk(@out) . "0\r\n\r\n";
}

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



=== TEST 19: compression: a gzip answer is decoded
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::enc_reply('gzip', ::gz($::Completion))
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 200
--- response_headers
Content-Encoding:
--- response_body eval: $::Completion
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 20: compression: deflate (zlib), chunked, to an Anthropic client
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
my $z = ::zl($::Completion);
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
. "Content-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n"
. ::chunk(substr($z, 0, 10), substr($z, 10)) . "0\r\n\r\n"
--- request eval
"POST /v1/messages\n" . sprintf($::Msg, 'gpt-4o') =~ s/"stream":true,//r
--- error_code: 200
--- response_body_like: "text":"Hello"
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 21: compression: deflate sent as raw deflate data
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::enc_reply('deflate', ::rawdefl($::Completion))
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 200
--- response_body eval: $::Completion
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 22: compression: two gzip members one after the other
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::enc_reply('x-gzip', ::gz(substr($::Completion, 0, 40))
. ::gz(substr($::Completion, 40)))
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 200
--- response_body eval: $::Completion
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 23: compression: a gzip bomb (16 KB to 16 MB) ends in a 502 at
llm_max_response_size
--- config
    location /v1/ {
        llm_pass;
        llm_max_response_size 1m;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::enc_reply('gzip', ::gz("\0" x 16_000_000))
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 502
--- response_body_like: ^\{"error":\{"message":".*","type":"[a-z_]+"
--- error_log
upstream sent a compressed response of more than 1048576 bytes decoded



=== TEST 24: compression: a truncated gzip answer is a 502
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
my $z = ::gz($::Completion);
::enc_reply('gzip', substr($z, 0, length($z) - 12))
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 502
--- error_log
upstream sent a truncated compressed response



=== TEST 25: compression: invalid gzip data is a 502
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::enc_reply('gzip', $::Completion)
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 502
--- error_log
upstream sent invalid gzip data



=== TEST 26: compression: br stays a 502
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::enc_reply('br', $::Completion)
--- request eval
"POST /v1/chat/completions\n$::NoStream"
--- error_code: 502
--- error_log
upstream sent a compressed response ("br") though identity was requested



=== TEST 27: compression: a gzip stream, flushed per event, passthrough
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::gz_stream(0, map { ::oai_sse($_) } @::OaiEvents, '[DONE]')
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_headers
Content-Encoding:
--- response_body eval
::oai_sse(@::OaiEvents, '[DONE]')
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 28: compression: a gzip stream of an Anthropic provider, to an
OpenAI client: translated as the plain one
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::gz_stream(0, @::AntEvents, @::AntEnd)
--- request eval
"POST /v1/chat/completions\n$::ChatClaude"
--- error_code: 200
--- response_body_like eval
qr/"content":"Hel".*"finish_reason":"stop".*\n\ndata: \[DONE\]\n\n\z/s
--- grep_error_log eval: qr/\[error\]/
--- grep_error_log_out



=== TEST 29: compression: a gzip stream that is a bomb: the ratio cap,
an error event
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
::gz_stream(0, ::oai_sse($::OaiEvents[0]), ": " . (" " x 30_000_000) . "\n")
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse($::OaiEvents[0]) . ::oai_err($::Broke)
--- error_log
upstream sent a compressed stream that decodes to more than 100 times its size



=== TEST 30: compression: a gzip stream without its end: an error event
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval: ::gz_stream(1, map { ::oai_sse($_) } @::OaiEvents)
--- request eval
"POST /v1/chat/completions\n$::Chat"
--- error_code: 200
--- response_body eval
::oai_sse(@::OaiEvents) . ::oai_err($::Broke)
--- error_log
upstream sent a truncated compressed stream
