package t::LLMFault;

# A mock provider that misbehaves on demand, for the fault matrix
# (t/305-fault-matrix.t) and the timer tests (t/306-timers.t): one
# process listening on 127.0.0.1, forking a child per connection, so
# that a stall on one connection holds up no other.  The fault is the
# first path segment, "/<fault>/chat/completions" (an llm_provider with
# base=/<fault>); a request with "stream":true gets the stream form.
#
#   good      the answer: $Good, or the SSE stream @GoodEvents + [DONE]
#   rst0      reset (RST, SO_LINGER 0) before the status line
#   rst1      the header and part of the body, then a reset
#   stall0    nothing for $Stall seconds, then close
#   stall1    the header (and, for a stream, nothing more), then the stall
#   s<NNN>    status NNN with a JSON error body; s429r: 429 + Retry-After: 7
#   quota     429 "insufficient_quota" (a spend cap)
#   flap      503 the first time, then the answer
#   antovl    (an Anthropic provider) a stream whose first event is
#             "event: error", overloaded_error
#   badjson   200 with invalid JSON (a stream: an event of invalid JSON)
#   trunc     chunked, closed before the last chunk (no terminating 0)
#   inband    200 whose answer is an error: a stream's error event
#   slow      a stream of one event every 100 ms for 5 s; how long the
#             connection lasted ("closed after N ms") goes to
#             $dir/slow.txt once the peer closes it
#   comments  a stream of keep-alive comments every 200 ms for 1 s,
#             then one event and [DONE]
#   late      the header, then the first event after 600 ms, then one
#             event 600 ms later, then [DONE] (timer tests)
#
#   my $port = t::LLMFault::start();     # $ENV{TEST_NGINX_FAULT_PORT}
#   $t::LLMFault::Dir                    # where slow.txt is written

use strict;
use warnings;

use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes ();

our $Stall = 1.5;
our $Dir;
our $Pid;
my $Parent = $$;

our $Good = '{"id":"chatcmpl-good","object":"chat.completion",'
    . '"model":"gpt-4o-mini","choices":[{"index":0,"message":'
    . '{"role":"assistant","content":"from the fallback"},'
    . '"finish_reason":"stop"}],'
    . '"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}';

our @GoodEvents = (
    '{"id":"c-good","object":"chat.completion.chunk","model":"gpt-4o-mini",'
    . '"choices":[{"index":0,"delta":{"role":"assistant","content":"fall"}}]}',
    '{"id":"c-good","object":"chat.completion.chunk","model":"gpt-4o-mini",'
    . '"choices":[{"index":0,"delta":{"content":"back"},'
    . '"finish_reason":"stop"}]}',
);

our $First = '{"id":"c-bad","object":"chat.completion.chunk",'
    . '"model":"gpt-4o","choices":[{"index":0,"delta":'
    . '{"role":"assistant","content":"Hel"}}]}';

our $InBand = '{"error":{"message":"The server had an error while '
    . 'processing your request.","type":"server_error","param":null,'
    . '"code":null}}';

sub sse { join '', map { "data: $_\n\n" } @_ }

sub chunk { join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_ }

sub good_stream { sse(@GoodEvents, '[DONE]') }

my $SseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              . "Transfer-Encoding: chunked\r\n\r\n";

sub json_reply {
    my ($status, $body, @h) = @_;
    return "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
           . join('', map { "$_\r\n" } @h)
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

sub reset_close {
    my $c = shift;
    setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $c;
}

sub read_request {
    my $c = shift;
    my $req = '';

    while ($req !~ /\r\n\r\n/) {
        my $n = sysread($c, $req, 4096, length $req);
        return undef if !$n;
    }

    my ($len) = $req =~ /Content-Length: (\d+)/i;
    my $want = index($req, "\r\n\r\n") + 4 + ($len // 0);

    while (length $req < $want) {
        my $n = sysread($c, $req, 4096, length $req);
        last if !$n;
    }

    return $req;
}

# waits up to $t seconds; true when the peer closed the connection
sub peer_closed {
    my ($c, $t) = @_;
    my $sel = IO::Select->new($c);

    if ($sel->can_read($t)) {
        my $buf;
        my $n = sysread($c, $buf, 4096);
        return 1 if !$n;
    }

    return 0;
}

sub serve {
    my $c = shift;
    my $req = read_request($c) // return;

    my ($fault) = $req =~ m{^\S+ /([^/\s]+)/};
    $fault //= 'good';
    my $stream = $req =~ /"stream"\s*:\s*true/;

    if ($fault eq 'good') {
        syswrite($c, $stream ? $SseHead . chunk(good_stream()) . "0\r\n\r\n"
                             : json_reply(200, $Good));
        return;
    }

    if ($fault eq 'rst0') {
        reset_close($c);
        return;
    }

    if ($fault eq 'rst1') {
        if ($stream) {
            syswrite($c, $SseHead . chunk(sse($First)));
        } else {
            syswrite($c, "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                         . "\r\nContent-Length: " . length($Good)
                         . "\r\n\r\n" . substr($Good, 0, 40));
        }
        Time::HiRes::sleep(0.1);
        reset_close($c);
        return;
    }

    if ($fault eq 'stall0') {
        Time::HiRes::sleep($Stall);
        return;
    }

    if ($fault eq 'stall1') {
        syswrite($c, $stream ? $SseHead
                     : "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                       . "\r\nContent-Length: " . length($Good) . "\r\n\r\n");
        Time::HiRes::sleep($Stall);
        return;
    }

    if ($fault =~ /^s(\d{3})(r?)$/) {
        my ($st, $ra) = ($1, $2);
        my $type = $st == 429 ? 'rate_limit_exceeded' : 'server_error';
        syswrite($c, json_reply($st, '{"error":{"message":"fault ' . $st
                                . '","type":"' . $type . '"}}',
                                $ra ? ('Retry-After: 7') : ()));
        return;
    }

    if ($fault eq 'antovl') {
        # Anthropic's stream that begins with its overloaded error
        syswrite($c, $SseHead . chunk("event: error\ndata: {\"type\":"
                 . "\"error\",\"error\":{\"type\":\"overloaded_error\","
                 . "\"message\":\"Overloaded\"}}\n\n") . "0\r\n\r\n");
        return;
    }

    if ($fault eq 'flap') {
        # 503 the first time, then 200 (state in $Dir/flap)
        if (-e "$Dir/flap") {
            syswrite($c, json_reply(200, $Good));
        } else {
            open my $f, '>', "$Dir/flap";
            close $f;
            syswrite($c, json_reply(503, '{"error":{"message":"flap",'
                                    . '"type":"server_error"}}'));
        }
        return;
    }

    if ($fault eq 'quota') {
        syswrite($c, json_reply(429, '{"error":{"message":"You exceeded '
                                . 'your current quota.","type":'
                                . '"insufficient_quota","param":null,'
                                . '"code":"insufficient_quota"}}'));
        return;
    }

    if ($fault eq 'badjson') {
        syswrite($c, $stream
                 ? $SseHead . chunk(sse('{"id":"c-bad","choices":[{oops'))
                   . "0\r\n\r\n"
                 : json_reply(200, '{"id":"chatcmpl-bad","choices":[{oops'));
        return;
    }

    if ($fault eq 'trunc') {
        if ($stream) {
            syswrite($c, $SseHead . chunk(sse($First)));
        } else {
            syswrite($c, "HTTP/1.1 200 OK\r\nContent-Type: application/json"
                         . "\r\nTransfer-Encoding: chunked\r\n\r\n"
                         . chunk(substr($Good, 0, 50)));
        }
        Time::HiRes::sleep(0.05);
        return;
    }

    if ($fault eq 'inband') {
        syswrite($c, $stream
                 ? $SseHead . chunk(sse($InBand)) . "0\r\n\r\n"
                 : json_reply(200, $InBand));
        return;
    }

    if ($fault eq 'slow') {
        my $t0 = Time::HiRes::time();
        syswrite($c, $SseHead);
        my $closed = 0;

        for (1 .. 50) {
            local $SIG{PIPE} = 'IGNORE';
            my $n = syswrite($c, chunk(sse($First)));
            if (!$n || peer_closed($c, 0.1)) { $closed = 1; last }
        }

        my $ms = int((Time::HiRes::time() - $t0) * 1000);

        if (open my $f, '>', "$Dir/slow.txt.tmp") {
            print $f $closed ? "closed after $ms ms\n" : "not closed\n";
            close $f;
            rename "$Dir/slow.txt.tmp", "$Dir/slow.txt";
        }

        return;
    }

    if ($fault eq 'comments') {
        # keep-alive comments every 200 ms for 1 s, then the answer
        syswrite($c, $SseHead);
        for (1 .. 5) {
            Time::HiRes::sleep(0.2);
            syswrite($c, chunk(": keep-alive\n\n"));
        }
        syswrite($c, chunk(sse($First)) . chunk(sse('[DONE]')) . "0\r\n\r\n");
        return;
    }

    if ($fault eq 'late') {
        syswrite($c, $SseHead);
        Time::HiRes::sleep(0.6);
        syswrite($c, chunk(sse($First)));
        Time::HiRes::sleep(0.6);
        syswrite($c, chunk(sse('[DONE]')) . "0\r\n\r\n");
        return;
    }

    syswrite($c, json_reply(404, '{"error":{"message":"no such fault"}}'));
}

sub start {
    return $ENV{TEST_NGINX_FAULT_PORT} if $Pid;

    $Dir = File::Temp::tempdir(CLEANUP => 1);
    $ENV{TEST_NGINX_FAULT_DIR} = $Dir;

    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Proto => 'tcp', Listen => 64,
                                    ReuseAddr => 1)
        or die "fault server: $!";

    $ENV{TEST_NGINX_FAULT_PORT} = $srv->sockport;

    $Pid = fork();
    die "fork: $!" if !defined $Pid;

    if ($Pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        $SIG{CHLD} = 'IGNORE';

        while (1) {
            my $c = $srv->accept or next;
            my $pid = fork();

            if (defined $pid && $pid == 0) {
                close $srv;
                serve($c);
                close $c;
                POSIX::_exit(0);
            }

            close $c;
        }
    }

    close $srv;

    return $ENV{TEST_NGINX_FAULT_PORT};
}

END {
    local $?;

    if ($Pid && $$ == $Parent) {
        kill 'TERM', $Pid;
        waitpid($Pid, 0);
    }
}

1;
