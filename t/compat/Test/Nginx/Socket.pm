package Test::Nginx::Socket;

# Clean-room, Test::Nginx-compatible test runner for ngx_http_llm_module.
#
# This file is NOT openresty/test-nginx: it was written from that project's
# public documentation (the Test::Nginx::Socket POD and the "Programming
# OpenResty" testing chapter) so that our t/*.t files, written in the
# Test::Nginx::Socket block format, run unchanged where the real module is
# not installed (it is not packaged in Debian).  "make test" adds
# -It/compat only when "perl -MTest::Nginx::Socket -e1" fails.
#
# It is a Test::Base subclass, like the real one, so the usual prologues
# work:
#
#     use Test::Nginx::Socket 'no_plan';
#     use Test::Nginx::Socket;  plan tests => repeat_each() * blocks() * 3;
#     package t::MyTester; use Test::Nginx::Socket -Base;
#
# See t/000-compat.t for what is supported and README-style notes at the end
# of this file for the known deviations.

use strict;
use warnings;

use Test::Base ();
use Test::More ();
use Test::LongString ();
use HTTP::Response ();
use IO::Socket::INET ();
use IO::Select ();
use List::Util qw(shuffle);
use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use JSON::PP ();
use POSIX qw(EAGAIN EINTR EWOULDBLOCK);
use Time::HiRes qw(sleep time);

use Test::Nginx::Util qw(:DEFAULT expand_env_in_text parse_time
    parse_headers trim sleep_time error_log_data access_log_data
    get_pid_from_pidfile is_running setup_server_root write_user_files
    write_config_file get_nginx_version start_nginx stop_nginx
    tcp_server_start tcp_server_stop cleanup);

our @ISA = qw(Test::Base);

sub value_contains ($$);
sub run_test ($);
sub run_test_helper ($$$);
sub check_error_log ($$$$$);

our $VERSION = '0.01';

# t/LLMCanary.pm: this runner searches for the canary itself
our $LLMCompat = 1;

our $IS_COMPAT = 1;

our @EXPORT = (@Test::Nginx::Util::EXPORT, qw(
    run_tests run_test plan add_response_body_check
    set_http_config_filter no_diff
));

our @ResponseBodyChecks;
our $PrevConfig;
our $CurrentBlock;       # the block the running nginx serves
our $TotalConnectFailures = 0;

my $port_env_is_ours;

if (!defined $ENV{TEST_NGINX_SERVER_PORT}) {
    $ENV{TEST_NGINX_SERVER_PORT} = $Test::Nginx::Util::ServerPort;
    $port_env_is_ours = 1;
}

# the suite's canary (t/LLMCanary.pm): every response and every log
# searched for the secrets the suites configure, when that file is found
my $canary = eval { require t::LLMCanary; 1 } ? 1 : 0;
my %canary_pos;

sub canary_check ($$$) {
    my ($block, $where, $text) = @_;

    return if !$canary || defined $block->canary_ok;

    my $hit = t::LLMCanary::find($text) // return;

    Test::More::fail($block->name . " - no canary secret in $where: "
                     . "$hit");
}

sub canary_check_logs ($) {
    my $block = shift;

    return if !$canary;

    my @hits = t::LLMCanary::scan_dir($Test::Nginx::Util::LogDir,
                                      \%canary_pos);

    return if defined $block->canary_ok || !@hits;

    Test::More::fail($block->name . " - no canary secret in the logs: "
                     . join('; ', @hits));
}

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

sub set_http_config_filter ($) {
    $Test::Nginx::Util::FilterHttpConfig = shift;
}

# Re-exported from Test::Base / Test::More for the prologues.
sub plan {
    Test::More::plan(@_);
}

sub no_diff {
    Test::Base::no_diff(@_);
}


sub run_tests () {
    get_nginx_version();

    if ($port_env_is_ours) {
        $ENV{TEST_NGINX_SERVER_PORT} = $Test::Nginx::Util::ServerPort;
    }

    if ($Test::Nginx::Util::CheckLeak) {
        Test::More::diag("TEST_NGINX_CHECK_LEAK: every check is skipped; "
                         . "see the LeakTest lines for the RSS samples and "
                         . "their slope");
    }

    my @blocks = Test::Base::blocks();

    if (!$Test::Nginx::Util::NoShuffle) {
        @blocks = shuffle @blocks;
    }

    for my $block (@blocks) {
        for my $hdl (@Test::Nginx::Util::BlockPreprocessors) {
            $hdl->($block);
        }

        $block->set_value('name', "$0 " . $block->name);

        run_test($block);

        for my $hdl (@Test::Nginx::Util::TestCleanupHandlers) {
            $hdl->($block);
        }
    }

    cleanup();
}


# skip_eval, skip_nginx, skip_nginx2, skip_openssl and todo.
sub parse_skips ($) {
    my $block = shift;

    my $name = $block->name;
    my $ver = $Test::Nginx::Util::NginxVersion;
    my ($n, $skip, $reason, $todo);

    my $cmp = sub {
        my ($have, $op, $want) = @_;
        return 0 if !defined $have;
        return eval "$have $op $want";
    };

    my $canon = sub { sprintf "%d.%03d%03d", @_ };

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec !~ /^\s*(\d+)\s*:\s*(.*)/s) {
            bail_out("$name - Invalid --- skip_eval spec: $spec");
        }

        $n = $1;
        $reason = 'skip_eval';
        my $code = $2;
        $skip = eval $code;
        if ($@) {
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@");
        }
    }

    my $v = qr/([<>]=?)\s*(\d+)\.(\d+)\.(\d+)/;

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec !~ /^\s*(\d+)\s*:\s*$v(?:\s*:\s*(.*?))?\s*$/) {
            bail_out("$name - Invalid --- skip_nginx spec: $spec");
        }

        $n = $1;
        $reason = $6 || "nginx version $2 $3.$4.$5";
        if ((!defined $ver && $2 =~ /^</)
            || $cmp->($ver, $2, $canon->($3, $4, $5)))
        {
            $skip = 1;
        }

    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        if ($spec2 !~ /^\s*(\d+)\s*:\s*$v\s*(or|and)\s*$v(?:\s*:\s*(.*?))?\s*$/)
        {
            bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        }

        $n = $1;
        $reason = $11 || 'nginx version';
        my $a = $cmp->($ver, $2, $canon->($3, $4, $5));
        my $b = $cmp->($ver, $7, $canon->($8, $9, $10));
        if (!defined $ver || ($6 eq 'or' ? ($a || $b) : ($a && $b))) {
            $skip = 1;
        }
    }

    if (defined(my $spec = $block->skip_openssl)) {
        if ($spec !~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                      (?:\s*:\s*(.*?))?\s*$/x)
        {
            bail_out("$name - Invalid --- skip_openssl spec: $spec");
        }

        $n = $1;
        my $have = $Test::Nginx::Util::OpenSSLVersion;
        my $want = $canon->($3, $4, $5)
                   + ($6 ? (ord($6) - ord('a') + 1) / 1e12 : 0);
        $reason = $7 || (defined $have ? "OpenSSL version $2 $3.$4.$5"
                                       : "Not built with OpenSSL");
        if (!defined $have || $cmp->($have, $2, $want)) {
            $skip = 1;
        }
    }

    if (defined(my $spec = $block->todo)) {
        if ($spec !~ /^\s*(\d+)\s*:\s*(.*)/s) {
            bail_out("$name - Invalid --- todo spec: $spec");
        }

        $n = $1;
        $todo = $2;
    }

    return ($n, $skip, $reason // 'various reasons', $todo);
}

sub nginx_failure_summary () {
    my $lines = Test::Nginx::Util::slurp($Test::Nginx::Util::ErrLogFile)
                // '';
    my @emerg = grep { /\[(?:emerg|alert|crit)\]/ } split /\n/, $lines;
    return @emerg ? "\n" . join("\n", @emerg[0 .. ($#emerg > 4 ? 4 : $#emerg)])
                  : '';
}

sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;
    my $rand_ports = {};
    $Test::Nginx::Util::RandPorts = $rand_ports;

    my $config = expand_env_in_text($block->config, $name, $rand_ports);
    my $must_die = $block->must_die;

    my $dry_run = 0;
    if ($Test::Nginx::Util::CheckLeak) {
        $dry_run = 'the "check leak" testing mode';
    }

    my ($n_skip, $should_skip, $skip_reason, $todo_reason)
        = parse_skips($block);

    if ($Test::Nginx::Util::NoNginxManager) {
        $should_skip ||= 0;

    } else {
        my $restart = 1;

        if (!defined $config) {
            if (!defined $PrevConfig) {
                bail_out("$name - No '--- config' section specified and "
                         . "could not get previous one.");
            }

            $restart = 0;

        } elsif (defined $PrevConfig && $config eq $PrevConfig
                 && !$Test::Nginx::Util::ForceRestartOnTest)
        {
            $restart = 0;
        }

        if (defined $must_die) {
            $restart = 1;
            $config //= $PrevConfig;

        } elsif ($dry_run && defined $block->no_check_leak) {
            $restart = 0;
        }

        if ($restart && !$should_skip) {
            $PrevConfig = $config;

            stop_nginx($name);
            $CurrentBlock = $block;
            setup_server_root();
            %canary_pos = ();

            if (defined(my $code = $block->post_setup_server_root)) {
                eval $code;
                bail_out("$name - post_setup_server_root failed: $@") if $@;
            }

            write_user_files($block, $rand_ports);
            {
                # a nginx that must die yet starts must not hold us up
                local $Test::Nginx::Util::DaemonEnabled
                    = defined $must_die ? 'on'
                                        : $Test::Nginx::Util::DaemonEnabled;
                write_config_file($block, $config, $rand_ports);
            }

            if (defined $must_die) {
                run_must_die($block, $must_die);
                canary_check_logs($block);
                return;
            }

            my $waited = 0;

            while (1) {
                my $status = start_nginx($block, undef);
                last if $status == 0;

                my $log = Test::Nginx::Util::slurp(
                              $Test::Nginx::Util::ErrLogFile) // '';

                if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
                    && $log =~ /\[emerg\] \S+?: unknown directive "([^"]+)"/)
                {
                    $dry_run = "the lack of directive $1";
                    last;
                }

                # Retry only while an old server may still hold the port.
                if ($log =~ /Address already in use/ && $waited < 5) {
                    sleep 0.1;
                    $waited += 0.1;
                    Test::Nginx::Util::setup_server_root();
                    write_user_files($block, $rand_ports);
                    write_config_file($block, $config, $rand_ports);
                    next;
                }

                bail_out("$name - Cannot start nginx using command "
                         . "\"$Test::Nginx::Util::NginxBinary -p "
                         . "$Test::Nginx::Util::ServRoot/ -c "
                         . "$Test::Nginx::Util::ConfFile\" (status code "
                         . "$status)." . nginx_failure_summary());
            }
        }
    }

    $CurrentBlock = $block if !$should_skip;

    if (defined(my $code = $block->init)) {
        eval $code;
        bail_out("$name - init failed: $@") if $@;
    }

    $Test::Nginx::Util::ErrLogFilePos = 0;

    for my $i (0 .. $Test::Nginx::Util::RepeatEach - 1) {
        my ($tcp_sock, $tcp_query_file, $tcp_target);

        if (!$dry_run && !$should_skip && defined $block->tcp_listen) {
            ($tcp_sock, $tcp_query_file, $tcp_target)
                = tcp_server_start($block, $rand_ports);
        }

        if ($i > 0 && !$should_skip) {
            write_user_files($block, $rand_ports);
        }

        if ($should_skip && defined $n_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $n_skip);
            }

        } elsif (defined $todo_reason) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $n_skip);
            }

        } else {
            run_test_helper($block, $dry_run, $i);
            check_tcp_query($block, $dry_run, $tcp_sock, $tcp_query_file);
        }

        if ($tcp_sock) {
            tcp_server_stop($tcp_sock, $tcp_target);
            unlink $tcp_query_file if defined $tcp_query_file;
        }

        check_nginx_alive($block, $dry_run || $should_skip);
    }

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        my $log = Test::Nginx::Util::slurp($Test::Nginx::Util::ErrLogFile);
        if (defined $log && length $log) {
            if (open my $out, '>>', $total) {
                print $out "\n=== $0 $name\n", $log;
                close $out;
            }
        }
    }

    if ($Test::Nginx::Util::UseValgrind && !$dry_run && !$should_skip) {
        stop_nginx($name);
        check_valgrind_report($block);
    }

    canary_check_logs($block) if !$should_skip;
}

sub run_must_die ($$) {
    my ($block, $must_die) = @_;

    my $name = $block->name;

    $Test::Nginx::Util::ErrLogFilePos = 0;

    for my $i (0 .. $Test::Nginx::Util::RepeatEach - 1) {
        my $status = start_nginx($block, $must_die);
        my $exit = $status >> 8;

        if ($status == -1 || $exit == 127) {
            Test::More::fail("$name - failed to execute the nginx command "
                             . "line");

        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");

        } elsif ($status & 127) {
            # a crash while reading the configuration is no expected death
            Test::More::fail("$name - nginx killed by signal "
                             . ($status & 127));

        } elsif ($must_die =~ /^\s*\d+\s*$/) {
            Test::More::is($must_die + 0, $exit,
                           "$name - die with the expected exit code");

        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        check_error_log($block, undef, 0, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            my $deadline = time + 1;
            sleep 0.005 while !-s $Test::Nginx::Util::PidFile
                              && time < $deadline;
            stop_nginx($name);
        }
    }
}

# A nginx that vanished in the middle of a block crashed (master off) or
# was killed; nothing else would report it before the next block.
sub check_nginx_alive ($$) {
    my ($block, $dry_run) = @_;

    my $pid = $Test::Nginx::Util::NginxStarted;

    return if $dry_run || !$pid || is_running($pid);

    my $name = $block->name;
    Test::More::fail("$name - nginx process $pid is gone (crashed?)"
                     . nginx_failure_summary());
    undef $Test::Nginx::Util::NginxStarted;
}

sub check_valgrind_report ($) {
    my $block = shift;

    my $name = $block->name;
    my $out = Test::Nginx::Util::slurp($Test::Nginx::Util::StderrFile);

    return if !defined $out || $out eq '';

    # the whole output, suppression templates included, as valgrind wrote it
    print STDERR $out;

    my @lines = split /\n/, $out;
    my @reports = grep { /^==\d+==/ } @lines;
    return if !@reports;

    # one summary line per record: the line after a blank "==PID==" line
    my @heads;
    my $prev_blank = 1;
    for my $line (@reports) {
        my $blank = $line =~ /^==\d+==\s*$/;
        push @heads, $line if $prev_blank && !$blank;
        $prev_blank = $blank;
    }

    Test::More::fail("$name - valgrind reported " . scalar(@heads)
                     . " error(s) (full report above):\n"
                     . join("\n", @heads[0 .. ($#heads > 19 ? 19 : $#heads)]));
}

sub check_tcp_query ($$$$) {
    my ($block, $dry_run, $sock, $query_file) = @_;

    my $name = $block->name;

    if ($dry_run) {
        for my $sec (qw(tcp_query tcp_query_len)) {
            next if !defined $block->$sec || !defined $block->tcp_listen;
            SKIP: {
                Test::More::skip("$name - tests skipped due to $dry_run", 1);
            }
        }
        return;
    }

    return if !$sock;

    my $buf = '';
    if ($query_file) {
        # The mock writes the file before it replies, so it is complete
        # once nginx answered; allow a short grace period all the same.
        my $deadline = time + 0.2;
        while (!-e $query_file && time < $deadline) {
            sleep 0.005;
        }

        $buf = Test::Nginx::Util::slurp($query_file) // '';
    }

    if (defined $block->tcp_query) {
        is_str($buf, $block->tcp_query, "$name - tcp_query ok");
    }

    if (defined $block->tcp_query_len) {
        Test::More::is(length($buf), $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}


# Building requests.

sub parse_more_headers ($) {
    my $in = shift;

    my ($out, $chunked) = ('', 0);

    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;

        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $val =~ s/\r$//;

        if (lc($key) eq 'transfer-encoding' && $val eq 'chunked') {
            $chunked = 1;
        }

        $out .= "$key: $val\r\n";
    }

    return ($out, $chunked);
}

# Turns "METHOD [URI [VERSION]]\nbody" packets into a full HTTP request,
# keeping the packet boundaries as close as possible to the original ones.
sub build_request ($$$$) {
    my ($name, $packets, $more_headers, $conn) = @_;

    my $raw = join '', @$packets;

    my ($line, $body) = $raw =~ /\A([^\n]*\n?)(.*)\z/s;

    if (!defined $line || $line !~ /\S/) {
        bail_out("$name - Request line should be non-empty");
    }

    (my $l = $line) =~ s/^\s+|\s+$//g;
    my @tok = split / +/, $l;

    if (@tok > 3 || $l =~ /[^ \S]/) {
        bail_out("$name - Request line is not valid. Should be 'meth [url "
                 . "[version]]' but got \"$line\".");
    }

    my ($meth, $uri, $ver) = @tok;
    $uri //= '/';
    $ver //= 'HTTP/1.1';

    my ($hdrs, $chunked) = parse_more_headers($more_headers);

    my $lead = 0;
    my $cl = '';

    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        $lead = length $1 if $body =~ s/^(\s+)//;
        $body =~ s/\s+\z//;
        $cl = "Content-Length: " . length($body) . "\r\n";
    }

    my $head = "$meth $uri $ver\r\n";

    if ($hdrs !~ /(?:^|\n)Host:/mi) {
        $head .= "Host: $Test::Nginx::Util::ServerName\r\n";
    }

    if ($hdrs !~ /(?:^|\n)Connection/mi) {
        $head .= "Connection: $conn\r\n";
    }

    $head .= "$hdrs$cl\r\n";

    my $req = $head . $body;

    return [$req] if @$packets <= 1;

    # Map each original packet boundary into the rebuilt request.
    my (@cuts, $pos);
    $pos = 0;
    for my $p (@$packets[0 .. $#$packets - 1]) {
        $pos += length $p;

        my $cut;
        if ($pos < length $line) {
            $cut = $pos > length("$meth $uri $ver") ? length("$meth $uri $ver")
                                                   : $pos;
        } else {
            my $off = $pos - length($line) - $lead;
            $off = 0 if $off < 0;
            $off = length $body if $off > length $body;
            $cut = length($head) + $off;
        }

        push @cuts, $cut;
    }

    my @out;
    my $prev = 0;
    for my $cut (@cuts, length $req) {
        $cut = $prev if $cut < $prev;
        push @out, substr($req, $prev, $cut - $prev);
        $prev = $cut;
    }

    return \@out;
}

sub headers_for ($$$) {
    my ($more, $i, $name) = @_;

    if (ref $more eq 'ARRAY') {
        my $h = $more->[$i];
        if (!defined $h) {
            bail_out("$name - --- more_headers lacks data for the "
                     . "request $i");
        }
        return $h;
    }

    return $more;
}

# Returns a list of requests, each a list of {value, delay_before} packets.
sub get_req_from_block ($) {
    my $block = shift;

    my $name = $block->name;

    if (defined(my $rr = $block->raw_request)) {
        if (ref $rr eq 'ARRAY') {
            return [[map { { value => $_ } } @$rr]];
        }

        return [[{ value => $rr }]];
    }

    my $more = $block->more_headers // '';

    if (defined(my $pl = $block->pipelined_requests)) {
        if (ref $pl ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }

        my $all = '';
        for my $i (0 .. $#$pl) {
            my $r = expand_env_in_text($pl->[$i], $name,
                                       $Test::Nginx::Util::RandPorts);
            my $conn = $i == $#$pl ? 'close' : 'keep-alive';
            $all .= join '', @{ build_request($name, [$r],
                                              headers_for($more, $i, $name),
                                              $conn) };
        }

        return [[{ value => $all }]];
    }

    my $request;

    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request "
                         . "eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;

    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//s;
        }
    }

    return [] if !defined $request;

    if (!ref $request) {
        my $pk = build_request($name, [$request], headers_for($more, 0, $name),
                               'close');
        return [[map { { value => $_ } } @$pk]];
    }

    if (ref $request ne 'ARRAY') {
        bail_out("$name - invalid --- request: MUST be string or array of "
                 . "requests");
    }

    my @reqs;

    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my $hdr = headers_for($more, $i, $name);

        if (!ref $one) {
            push @reqs, [{ value => build_request($name, [$one], $hdr,
                                                  'close')->[0] }];
            next;
        }

        if (ref $one ne 'ARRAY') {
            bail_out("$name - Invalid syntax. $one should be a string or an "
                     . "array of packets.");
        }

        my @vals;
        for my $p (@$one) {
            if (!ref $p) {
                push @vals, $p;

            } elsif (ref $p eq 'HASH') {
                push @vals, $p->{value} // '';

            } else {
                bail_out("$name - Invalid syntax. $p should be a string or "
                         . "hash with value.");
            }
        }

        my $pk = build_request($name, \@vals, $hdr, 'close');
        my @bits;
        for my $k (0 .. $#$pk) {
            my %bit = ref $one->[$k] eq 'HASH' ? %{ $one->[$k] } : ();
            $bit{value} = $pk->[$k];
            push @bits, \%bit;
        }

        push @reqs, \@bits;
    }

    return \@reqs;
}


# The client: one connection per request, "Connection: close", the timeout
# applies between two I/O events, as documented.

sub connect_server ($$) {
    my ($block, $timeout) = @_;

    my $name = $block->name;
    my $addr = $block->server_addr_for_client
               // $Test::Nginx::Util::ServerAddr;
    my $port = $Test::Nginx::Util::ServerPortForClient;
    my $limit = time + ($Test::Nginx::Util::UseValgrind ? 10 : 2);
    my $wait = 0.01;
    my $err;

    while (1) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $addr,
            PeerPort => $port,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );

        return $sock if $sock;

        $err = $!;

        my $pid = $Test::Nginx::Util::NginxStarted;
        last if time > $limit || ($pid && !is_running($pid));

        sleep $wait;
        $wait *= 2 if $wait < 0.2;
    }

    my $msg = "$name - Can't connect to $addr:$port: $err (aborted)\n";

    if (++$TotalConnectFailures >= 3) {
        bail_out($msg);
    }

    Test::More::fail($msg);
    return undef;
}

sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;

    my $name = $block->name;
    my @bits = @$req;

    my $all = join '', map { $_->{value} // '' } @bits;
    my $head_req = $all =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $sock = connect_server($block, $timeout) or return (undef, $head_req);

    $sock->blocking(0);

    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $bit = shift @bits;
    my $buf = $bit->{value} // '';
    my $off = 0;
    my $writing = 1;

    while (1) {
        my $rsel = IO::Select->new($sock);
        my $wsel = $writing ? IO::Select->new($sock) : undef;

        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $timeout);

        if (!$r && !$w) {
            if ($! == EINTR) {
                next;
            }

            # timed out
            close $sock;

            if (!defined $block->abort) {
                Test::More::fail("ERROR: client socket timed out - $name\n");

            } else {
                sleep 0.005;
            }

            last;
        }

        if ($w && @$w) {
            while ($writing) {
                if ($off < length $buf) {
                    my $n = syswrite($sock, $buf, length($buf) - $off, $off);

                    if (!defined $n) {
                        last if $! == EAGAIN || $! == EWOULDBLOCK;

                        warn "write failed: $!\n";
                        $resp = "write failed: $!" if $resp eq '';
                        $writing = 0;
                        last;
                    }

                    $off += $n;
                    next;
                }

                $bit = shift @bits;

                if (!$bit) {
                    $writing = 0;

                    if (defined(my $how = $block->shutdown)) {
                        $how = 1 if $how !~ /\d/;
                        shutdown($sock, $how);
                    }

                    last;
                }

                my $delay = $bit->{delay_before} // $middle_delay;
                sleep parse_time($delay) if $delay;

                $buf = $bit->{value} // '';
                $off = 0;
            }
        }

        if ($r && @$r) {
            my $data;
            my $n = sysread($sock, $data, 16384);

            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;

                if ($resp eq '' || $! != POSIX::ECONNRESET()) {
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                }

                close $sock;
                last;
            }

            if ($n == 0) {
                close $sock;
                last;
            }

            $resp .= $data;
        }
    }

    return ($resp, $head_req);
}


# Parsing responses.

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;

    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $left;

    if (defined $te && $te eq 'chunked') {
        my $body = $res->content // '';
        my $decoded = '';

        pos($body) = 0;

        while (1) {
            if ($body =~ /\G0[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                # the last chunk, then optional trailers and CRLF
                1 while $body =~ /\G[^\r\n]+\r\n/gc;

                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }

                $left = substr $body, pos $body if pos($body) < length $body;
                last;
            }

            if ($body =~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                my $size = hex $1;
                my $at = pos $body;

                if (length($body) - $at < $size) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enough octets for the data "
                                     . "section)");
                    return;
                }

                $decoded .= substr $body, $at, $size;
                pos($body) = $at + $size;

                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }

                next;
            }

            if ($body =~ /\G(.+)/gcs) {
                Test::More::fail("$name - invalid chunked body received: $1");
                return;
            }

            Test::More::fail("$name - no last chunk found - $decoded");
            return;
        }

        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\s*(\d+)\s*$/) {
        $len = $1;
        my $body = $res->content // '';

        if (length $body < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: $len "
                     . "expected, but got " . length($body) . "\n";
            }

        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}


# The checks.

sub skip_check ($$) {
    my ($why, $n) = @_;

    SKIP: {
        Test::More::skip($why, $n);
    }
}

sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;

    if ($need_array) {
        if (ref $value eq 'ARRAY') {
            return $value->[$idx];
        }

        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }

    if (ref $value eq 'ARRAY') {
        return $value->[0];
    }

    return $value;
}

sub subst_server_port ($) {
    my $s = shift;

    return $s if !defined $s || ref $s;

    $s =~ s/\$ServerPortForClient\b/$Test::Nginx::Util::ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$Test::Nginx::Util::ServerPort/g;
    return $s;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;

    my $name = $block->name;
    my $got = ($res && $res->code) || '';

    return skip_check("$name - tests skipped due to $dry_run", 1) if $dry_run;

    if (defined $block->error_code_like) {
        my $pat = get_indexed_value($name, $block->error_code_like, $idx,
                                    $need_array);
        Test::More::like($got, qr/$pat/sm, "$name - status code ok");

    } elsif (defined $block->error_code) {
        Test::More::is($got, get_indexed_value($name, $block->error_code,
                                               $idx, $need_array),
                       "$name - status code ok");

    } else {
        Test::More::is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $idx, $need_array) = @_;

    my $name = $block->name;

    for my $sec (qw(raw_response_headers_like raw_response_headers_unlike)) {
        next if !defined $block->$sec;

        if ($dry_run) {
            skip_check("$name - $sec - tests skipped due to $dry_run", 1);
            next;
        }

        my $pat = subst_server_port(get_indexed_value($name, $block->$sec,
                                                      $idx, $need_array));

        if ($sec =~ /unlike$/) {
            Test::More::unlike($raw_headers, qr/$pat/s,
                               "$name - raw resp headers unlike");
        } else {
            Test::More::like($raw_headers, qr/$pat/s,
                             "$name - raw resp headers like");
        }
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $idx, $need_array) = @_;

    my $name = $block->name;

    if (defined $block->response_headers) {
        my $h = parse_headers(get_indexed_value($name,
                                                $block->response_headers,
                                                $idx, $need_array));

        for my $key (sort keys %$h) {
            my $val = $h->{$key};

            if ($dry_run) {
                skip_check("$name - response_headers - tests skipped due to "
                           . "$dry_run", 1);
                next;
            }

            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }

            $val = subst_server_port($val);
            my $got = $res ? scalar $res->header($key) : undef;
            Test::More::is($got // '', $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $h = parse_headers(get_indexed_value($name,
                                                $block->response_headers_like,
                                                $idx, $need_array));

        for my $key (sort keys %$h) {
            my $val = $h->{$key} // '';

            if ($dry_run) {
                skip_check("$name - response_headers_like - tests skipped "
                           . "due to $dry_run", 1);
                next;
            }

            $val = subst_server_port($val);
            my $got = $res ? scalar $res->header($key) : undef;
            Test::More::like($got // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

my %BodyFilters = (
    md5_hex  => \&Digest::MD5::md5_hex,
    sha1_hex => \&Digest::SHA::sha1_hex,
    length   => sub { length $_[0] },
    uc       => sub { uc $_[0] },
    lc       => sub { lc $_[0] },
    ucfirst  => sub { ucfirst $_[0] },
    lcfirst  => sub { lcfirst $_[0] },
);

sub transform_response_body ($$$) {
    my ($block, $res, $idx) = @_;

    my $filters = $block->response_body_filters;

    return if !defined $filters || !$res || !defined $res->content;

    my $name = $block->name;

    if (!ref $filters) {
        (my $f = $filters) =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $f];

    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    if (@$filters && ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$idx];
        bail_out("$name - the --- response_body_filters two-dimensional "
                 . "array has no entry for request $idx") if !$filters;
    }

    my $body = $res->content;

    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : $BodyFilters{$f};
        bail_out("$name - unknown response_body_filters filter: $f")
            if !$code;
        $body = $code->($body);
    }

    $res->content($body);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $idx, $rep, $need_array) = @_;

    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body || defined $block->response_body_eval) {
        if (defined $block->response_body_json_sort && defined $content) {
            my $js = JSON::PP->new->canonical(1)->loose(1)
                     ->allow_nonref(1);
            my $obj = eval { $js->decode($content) };
            if (!$@) {
                $content = $js->encode($obj) . "\n";
            }
        }

        my $expected;

        if (defined $block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval get_indexed_value($name,
                                               $block->response_body_eval,
                                               $idx, $need_array);
            warn $@ if $@;

        } else {
            $expected = get_indexed_value($name, $block->response_body, $idx,
                                          $need_array);
        }

        if (defined $expected && !ref $expected) {
            if ($block->charset) {
                Encode::from_to($expected, 'UTF-8', $block->charset);
            }

            $expected = subst_server_port($expected);
            $expected = expand_env_in_text($expected, $name,
                                           $Test::Nginx::Util::RandPorts);
        }

        if ($dry_run) {
            skip_check("$name - response_body - tests skipped due to "
                       . "$dry_run", 1);

        } elsif (ref $expected) {
            Test::More::like($content, $expected, "$name - response_body - "
                             . "like (repeated req $rep, req $idx)");

        } else {
            is_str($content, $expected, "$name - response_body - response "
                   . "is expected (repeated req $rep, req $idx)");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $sec = "response_body_$type";
        my $pat = subst_server_port(get_indexed_value($name, $block->$sec,
                                                      $idx, $need_array));
        my $summary = trim($content) // '';

        if ($dry_run) {
            skip_check("$name - $sec - tests skipped due to $dry_run", 1);

        } elsif ($type eq 'like') {
            Test::More::like($content, qr/$pat/s,
                             "$name - $sec - response is expected ($summary)");

        } else {
            Test::More::unlike($content, qr/$pat/s,
                             "$name - $sec - response is expected ($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $rep, $dry_run);
    }
}

sub value_contains ($$) {
    my ($val, $pat) = @_;

    return 0 if !defined $val;

    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $pat);
        }
        return 0;
    }

    return index("$val", $pat) >= 0;
}

sub pattern_list ($) {
    my $pats = shift;

    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }

    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub fmt_str ($) {
    my $s = shift;

    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub line_matches ($$) {
    my ($line, $pat) = @_;

    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

# Log lines that fail a block whatever its sections say: crashes, failed
# assertions and sanitizer reports.
our @FatalLogPatterns = (
    qr/\bAssertion .*?failed\b/,
    qr/worker process \d+ exited on signal/,
    qr/==\d+==ERROR: (?:AddressSanitizer|LeakSanitizer)/,
    qr/\.[ch]:\d+:\d+: runtime error: /,
);

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $rep, $need_array) = @_;

    my $name = $block->name;
    my $lines;
    my $log = sub { $lines //= error_log_data() };

    my $grep_pat = $block->grep_error_log;

    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$rep] if ref $grep_pat eq 'ARRAY';

        my $expected = $block->grep_error_log_out;
        if (!defined $expected) {
            bail_out("$name - No --- grep_error_log_out defined but --- "
                     . "grep_error_log is defined");
        }

        $expected = expand_env_in_text($expected, $name,
                                       $Test::Nginx::Util::RandPorts);
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';

        if ($dry_run) {
            skip_check("$name - error_log - tests skipped due to $dry_run",
                       1);

        } else {
            my $out = '';
            for my $line (@{ $log->() }) {
                my $m;
                if (ref $grep_pat) {
                    $m = $& if $line =~ $grep_pat;
                } elsif ($line =~ /\Q$grep_pat\E/) {
                    $m = $&;
                }
                $out .= "$m\n" if defined $m && $m !~ /\n/;
            }

            if (ref $expected eq 'Regexp') {
                Test::More::like($out, $expected,
                                 "$name - grep_error_log_out (req $rep)");
            } else {
                is_str($out, $expected, "$name - grep_error_log_out "
                       . "(req $rep)");
            }
        }

    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- "
                 . "grep_error_log_out is defined");
    }

    my %quiet;

    for my $sec (qw(error_log no_error_log)) {
        my $val = $block->$sec;
        next if !defined $val;

        for my $lvl (qw(alert crit emerg)) {
            $quiet{$lvl} = 1 if value_contains($val, "[$lvl");
        }

        $quiet{signal} = 1 if value_contains($val, 'exited on signal')
                              || value_contains($val, '[alert');
    }

    if (defined $block->error_log) {
        my $pats = pattern_list($block->error_log);
        my @found;

        for my $line (@{ $log->() }) {
            for my $k (0 .. $#$pats) {
                next if $found[$k] || !defined $pats->[$k];
                next if !line_matches($line, $pats->[$k]);

                $found[$k] = 1;
                if ($dry_run) {
                    skip_check("$name - error_log - tests skipped due to "
                               . "$dry_run", 1);
                } else {
                    Test::More::pass("$name - pattern \"$pats->[$k]\" "
                                     . "matches a line in error.log "
                                     . "(req $rep)");
                }
            }
        }

        for my $k (0 .. $#$pats) {
            next if $found[$k] || !defined $pats->[$k];

            if ($dry_run) {
                skip_check("$name - error_log - tests skipped due to "
                           . "$dry_run", 1);
            } else {
                Test::More::fail("$name - pattern \"$pats->[$k]\" should "
                                 . "match a line in error.log (req $rep)");
            }
        }
    }

    if (defined $block->no_error_log) {
        my $pats = pattern_list($block->no_error_log);
        my $lines_ref = $log->();

        for my $pat (@$pats) {
            next if !defined $pat;

            my $p = fmt_str($pat);

            if ($dry_run) {
                skip_check("$name - no_error_log - tests skipped due to "
                           . "$dry_run", 1);
                next;
            }

            my @hits = grep { line_matches($_, $pat) } @$lines_ref;

            if (!@hits) {
                Test::More::pass("$name - pattern \"$p\" does not match a "
                                 . "line in error.log (req $rep)");
                next;
            }

            my $more = @hits > 1 ? " (and " . (@hits - 1) . " more lines)"
                                 : '';
            Test::More::fail("$name - pattern \"$p\" should not match any "
                             . "line in error.log but matches line \""
                             . fmt_str($hits[0]) . "\"$more (req $rep)\n");
        }
    }

    return if $dry_run;

    my $strict = $ENV{TEST_NGINX_FAIL_ON_ALERT};

    for my $line (@{ $log->() }) {
        for my $lvl (qw(alert crit emerg)) {
            next if $quiet{$lvl} || $line !~ /\[$lvl\]/;

            my $ln = fmt_str($line);
            if ($strict && !($lvl eq 'emerg' && defined $block->must_die)) {
                Test::More::fail("$name - [$lvl] in error.log: $ln");
            } else {
                warn "WARNING: $name - $ln\n";
            }
        }

        for my $re (@FatalLogPatterns) {
            next if $line !~ $re;
            next if $quiet{signal} && $line =~ /exited on signal/;

            (my $ln = $line) =~ s/\s+\z//;
            Test::More::fail("$name - $ln\n");
        }
    }
}

# Called by stop_nginx() once nginx is gone, with the error log size from
# before the stop: crashes and sanitizer reports written while exiting
# (LeakSanitizer reports at exit, typically) fail the block that ran last.

sub check_shutdown_log ($) {
    my $offset = shift;

    return if !$CurrentBlock || defined $CurrentBlock->must_die;

    open my $in, '<', $Test::Nginx::Util::ErrLogFile or return;
    seek $in, $offset, 0;
    my @lines = <$in>;
    close $in;

    my $name = $CurrentBlock->name;

    for my $line (@lines) {
        for my $re (@FatalLogPatterns) {
            next if $line !~ $re;

            (my $ln = $line) =~ s/\s+\z//;
            Test::More::fail("$name - while nginx was exiting: $ln\n");
        }
    }
}

$Test::Nginx::Util::ShutdownLogCheck = \&check_shutdown_log;

sub check_access_log ($$$) {
    my ($block, $dry_run, $rep) = @_;

    my $name = $block->name;

    for my $sec (qw(access_log no_access_log)) {
        my $val = $block->$sec;
        next if !defined $val;

        my $pats = pattern_list($val);
        my $lines = $dry_run ? [] : access_log_data();

        for my $pat (@$pats) {
            next if !defined $pat;

            if ($dry_run) {
                skip_check("$name - $sec - tests skipped due to $dry_run", 1);
                next;
            }

            my @hits = grep { line_matches($_, $pat) } @$lines;
            my $p = fmt_str($pat);

            if ($sec eq 'access_log') {
                Test::More::ok(scalar @hits, "$name - pattern \"$p\" matches "
                               . "a line in access.log (req $rep)");
            } else {
                Test::More::ok(!@hits, "$name - pattern \"$p\" should not "
                               . "match any line in access.log"
                               . (@hits ? " but matches line \""
                                          . fmt_str($hits[0]) . "\"" : '')
                               . " (req $rep)");
            }
        }
    }
}

# TEST_NGINX_CHECK_LEAK: load nginx with the block's first request from a
# child process while sampling the RSS of the worker every 20 ms, then
# print the samples and the slope of their linear regression (KB/sample).
sub run_leak_check ($$) {
    my ($block, $req) = @_;

    my $name = $block->name;
    my $count = $ENV{TEST_NGINX_CHECK_LEAK_COUNT} || 100;
    my $data = join '', map { $_->{value} // '' } @$req;

    warn "$name\n";

    my $master = get_pid_from_pidfile($name);
    if (!$master || !is_running($master)) {
        warn "LeakTest: k=N/A (nginx is not running)\n";
        return;
    }

    my $pid = fork();
    bail_out("$name - fork() failed: $!") if !defined $pid;

    if ($pid == 0) {
        $Test::Nginx::Util::InSubprocess = 1;
        $SIG{PIPE} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (1) {
            my $sock = IO::Socket::INET->new(
                PeerAddr => $Test::Nginx::Util::ServerAddr,
                PeerPort => $Test::Nginx::Util::ServerPortForClient,
                Proto    => 'tcp',
                Timeout  => 1,
            ) or do { sleep 0.01; next };
            syswrite $sock, $data;
            my $buf;
            1 while sysread($sock, $buf, 16384);
            close $sock;
        }
    }

    # the first worker (or the single process) is the one to watch
    my $target = $master;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // '';
        close $in;
        if ($line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $master) {
            $target = $1;
            last;
        }
    }

    sleep 0.5;    # warm-up

    my @rss;
    for (1 .. $count) {
        sleep 0.02;
        open my $in, '<', "/proc/$target/status" or last;
        my ($kb) = join('', <$in>) =~ /^VmRSS:\s+(\d+)/m;
        close $in;
        push @rss, $kb if defined $kb;
    }

    kill 'TERM', $pid;
    waitpid($pid, 0);

    warn "LeakTest: [@rss]\n";

    if (@rss < 2) {
        warn "LeakTest: k=N/A\n";
        return;
    }

    my $n = @rss;
    my ($sx, $sy, $sxy, $sxx) = (0, 0, 0, 0);
    for my $i (0 .. $n - 1) {
        $sx += $i;
        $sy += $rss[$i];
        $sxy += $i * $rss[$i];
        $sxx += $i * $i;
    }

    my $k = ($n * $sxy - $sx * $sy) / ($n * $sxx - $sx * $sx);
    warn sprintf("LeakTest: k=%.1f\n", $k);
}

sub run_test_helper ($$$) {
    my ($block, $dry_run, $rep) = @_;

    my $name = $block->name;

    my $reqs = get_req_from_block($block);

    if (!@$reqs) {
        bail_out("$name - request empty");
    }

    if ($Test::Nginx::Util::CheckLeak && !defined $block->no_check_leak) {
        run_leak_check($block, $reqs->[0]);
    }

    my $timeout = parse_time($block->timeout)
                  // $Test::Nginx::Util::Timeout;

    my $pipelined = $block->pipelined_requests;
    my $per_conn = $pipelined ? scalar @$pipelined : 1;
    my $need_array = $pipelined ? 1 : (@$reqs > 1 ? 1 : 0);
    my $ignore = defined $block->ignore_response;
    my $wait = parse_time($block->wait);
    my $idx = 0;
    my $res;

    for my $k (0 .. $#$reqs) {
        my ($raw, $head_req);

        if ($dry_run) {
            ($raw, $head_req) = ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n"
                                 . "\r\n", 0);
        } else {
            ($raw, $head_req) = send_request($reqs->[$k],
                                             $block->raw_request_middle_delay,
                                             $timeout, $block);
        }

        $raw //= '';

        canary_check($block, "the response to request $k", $raw)
            if !$dry_run;

        if ($Test::Nginx::Util::Verbose) {
            warn "$name - request:\n",
                 join('', map { $_->{value} // '' } @{ $reqs->[$k] }),
                 "\n$name - response:\n$raw\n";
        }

        for my $j (1 .. $per_conn) {
            my ($raw_headers, $left) = ('');

            if (!$ignore) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw);

                } else {
                    ($res, $raw_headers, $left)
                        = parse_response($name, $raw, $head_req);
                    $raw_headers //= '';
                }
            }

            if ($j == $per_conn) {
                if (defined $left && length $left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/
                                         sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$l\"\n";
                }

            } else {
                $raw = $left // '';
            }

            if (!$ignore) {
                check_error_code($block, $res, $dry_run, $idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $idx, $need_array);
                transform_response_body($block, $res, $idx);
                check_response_body($block, $res, $dry_run, $idx, $rep,
                                    $need_array);
            }

            if ($j < $per_conn || $k < $#$reqs) {
                sleep $wait if $wait;
                check_error_log($block, $res, $dry_run, $rep, $need_array);
                check_access_log($block, $dry_run, $rep) if !$ignore;
            }

            $idx++;
        }
    }

    sleep $wait if $wait;

    check_error_log($block, $res, $dry_run, $rep, $need_array);
    check_access_log($block, $dry_run, $rep) if !$ignore;
}

1;

__END__

=head1 NAME

Test::Nginx::Socket - compat runner (clean-room) for ngx_http_llm_module

=head1 SYNOPSIS

    prove -I. -It/compat -r t
    TEST_NGINX_LOAD_MODULES="/path/a.so /path/b.so" prove -It/compat t/x.t

=head1 DESCRIPTION

A Test::Base-based runner for test files written in the
Test::Nginx::Socket block format, written from the documented behaviour
of the real module.  t/000-compat.t is its self-test.

=head2 Supported

Functions: run_tests, run_test, repeat_each, no_shuffle, no_long_string,
no_diff, log_level, workers, master_on, master_off, master_process_enabled,
worker_connections, no_root_location, add_block_preprocessor,
add_cleanup_handler, add_test_cleanup_handler, add_response_body_check,
env_to_nginx, html_dir, server_root, server_port, server_port_for_client,
server_name, server_addr, timeout, config_preamble, check_accum_error_log,
set_http_config_filter, is_str, bail_out, plan, blocks; "no_plan",
"tests => N" and "skip_all" on the use line; -Base subclassing.

Sections: ONLY, SKIP, LAST, config, http_config, main_config,
post_main_config, server_name, user_files, init, post_setup_server_root,
request (string, array, packets with delay_before), request_eval,
raw_request (string or packets), raw_request_middle_delay, more_headers
(string or array), pipelined_requests, shutdown, server_addr_for_client,
error_code, error_code_like, response_headers (with !), response_headers_like,
raw_response_headers_like/_unlike, response_body, response_body_eval,
response_body_like/_unlike, response_body_filters, response_body_json_sort,
charset, ignore_response, http09, timeout, abort, wait, error_log,
no_error_log, grep_error_log, grep_error_log_out, access_log, no_access_log,
log_level, error_log_file, must_die, suppress_stderr, tcp_listen,
tcp_reply (string, array, sub), tcp_reply_delay, tcp_query, tcp_query_len,
tcp_query_auto_timeout, tcp_no_close, tcp_shutdown, skip_eval, skip_nginx,
skip_nginx2, skip_openssl, todo, no_check_leak.

Added here, for ngx_http_llm_module's canary (t/LLMCanary.pm): every
response and every file under logs/ is searched for the suite's canary
secrets after every block, a hit failing a test "no canary secret in ...";
a block with a "canary_ok" section (its reason as the value) is not
searched.  The real Test::Nginx does not do this (see t/999-canary.t).

Environment: TEST_NGINX_BINARY, TEST_NGINX_SERVER_PORT, TEST_NGINX_PORT,
TEST_NGINX_CLIENT_PORT, TEST_NGINX_SERVROOT, TEST_NGINX_LOG_LEVEL,
TEST_NGINX_MASTER_PROCESS, TEST_NGINX_LOAD_MODULES, TEST_NGINX_TIMEOUT,
TEST_NGINX_SLEEP, TEST_NGINX_NO_SHUFFLE, TEST_NGINX_NO_CLEAN,
TEST_NGINX_VERBOSE, TEST_NGINX_USE_VALGRIND,
TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR, TEST_NGINX_POSTPONE_OUTPUT,
TEST_NGINX_ERROR_LOG, TEST_NGINX_EVENT_TYPE, TEST_NGINX_RANDOMIZE,
TEST_NGINX_FORCE_RESTART_ON_TEST, TEST_NGINX_CHECK_ACCUM_ERR_LOG,
TEST_NGINX_CHECK_LEAK (+ _COUNT), TEST_NGINX_IGNORE_MISSING_DIRECTIVES,
TEST_NGINX_LD_PRELOAD, TEST_NGINX_WORKER_USER, TEST_NGINX_FAST_SHUTDOWN,
TEST_NGINX_NO_NGINX_MANAGER.  The runner sets TEST_NGINX_SERVER_ROOT,
TEST_NGINX_HTML_DIR and (if unset) TEST_NGINX_SERVER_PORT.

Compat-only: TEST_NGINX_FAIL_ON_ALERT=1 turns the [alert], [crit] and
[emerg] warnings into failures (not [emerg] in must_die blocks).

=head2 Known deviations from the real module

=over

=item * no HUP reload, HTTP/2, HTTP/3, curl, stap, UDP or benchmark
modes; the check-leak mode loads nginx from a Perl child (no ab/weighttp)
and samples /proc/PID/status, every check being skipped as documented;

=item * a C<no_error_log> pattern fails once (naming its first matching
line and how many more matched) rather than once per matching line;

=item * crashes are failures: "Assertion ... failed", "worker process ...
exited on signal", ASan/LSan/UBSan reports in error.log (also those written
while nginx exits, charged to the last block), a nginx that vanished during
a block, a must_die nginx killed by a signal, and valgrind reports
(TEST_NGINX_USE_VALGRIND) each add a failing test; with clean runs the
test counts are those of the real module;

=item * C<[alert]>/C<[crit]>/C<[emerg]> lines only warn, as documented,
unless TEST_NGINX_FAIL_ON_ALERT=1;

=item * the error log is read after one TEST_NGINX_SLEEP pause (15 ms)
instead of three; nginx start failures are retried only while the port is
in use (up to 5 s) instead of 30 s;

=item * the generated nginx.conf also passes UBSAN_OPTIONS and LSAN_OPTIONS,
puts load_module lines first and keeps every temp path in the server root.

=back

=cut
