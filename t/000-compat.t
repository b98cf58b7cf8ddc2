# Self-test of the compat Test::Nginx runner (t/compat), with stock nginx
# and the echo module only.
#
#     prove -I. -It/compat t/000-compat.t
#
# The prologue runs small generated test files in a subprocess (their own
# port and server root) to prove that each check can fail, that ONLY, LAST
# and exact plans work, and that master_on()/workers() are honoured.  The
# data section below exercises the features that must pass.

use strict;
use warnings;

my $Echo;

BEGIN {
    $Echo = $ENV{TEST_NGINX_ECHO_MODULE}
            || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

    my $mods = $ENV{TEST_NGINX_LOAD_MODULES} // '';
    if (-f $Echo && $mods !~ /ngx_http_echo_module/) {
        $ENV{TEST_NGINX_LOAD_MODULES} = join ' ', grep { length } $Echo,
                                        $mods;
    }

    $ENV{TEST_NGINX_COMPAT_WORD} = 'expanded';
}

use Test::Nginx::Socket;

use Cwd ();
use File::Basename ();
use File::Temp ();
use POSIX ();

if (!$Test::Nginx::Socket::IS_COMPAT) {
    plan(skip_all => 'self-test of the compat runner (t/compat) only');
}

if (!-f $Echo) {
    plan(skip_all => "echo module not found at $Echo");
}

plan('no_plan');

my $Compat = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/compat');

# Runs a generated test file; returns its TAP output (stdout and stderr)
# and exit status.
# Extra files (relative to the directory the test runs in) and environment
# values may use %DIR% for that directory.
sub run_meta {
    my ($file, $src, $env, $files) = @_;

    my $dir = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$dir/t";

    my %files = (%{ $files || {} }, "t/$file" => $src);

    for my $f (sort keys %files) {
        my $path = "$dir/$f";
        if ($path =~ m{^(.*)/[^/]+$} && !-d $1) {
            mkdir $1 or die "mkdir $1: $!";
        }

        open my $out, '>', $path or die "$path: $!";
        print $out $files{$f};
        close $out;
        chmod 0755, $path if $f =~ m{^bin/};
    }

    my %env = %{ $env || {} };
    s/%DIR%/$dir/g for values %env;

    my $port = Test::Nginx::Util::gen_rand_port(1000, { 1984 => 1 });

    my $pid = fork();
    die "fork: $!" if !defined $pid;

    if ($pid == 0) {
        chdir $dir or POSIX::_exit(1);

        $ENV{TEST_NGINX_SERVER_PORT} = $port;
        $ENV{TEST_NGINX_CLIENT_PORT} = $port;
        $ENV{TEST_NGINX_SERVROOT} = "$dir/t/servroot";
        $ENV{TEST_NGINX_NO_SHUFFLE} = 1;
        delete @ENV{qw(TEST_NGINX_SERVER_ROOT TEST_NGINX_HTML_DIR
                       TEST_NGINX_USE_VALGRIND TEST_NGINX_FAIL_ON_ALERT
                       HARNESS_ACTIVE HARNESS_VERSION)};
        @ENV{keys %env} = values %env;

        open STDOUT, '>', "$dir/out" or POSIX::_exit(1);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(1);
        exec($^X, "-I$Compat", '-I.', "t/$file") or POSIX::_exit(127);
    }

    waitpid($pid, 0);
    my $status = $? >> 8;

    open my $in, '<', "$dir/out" or die "$dir/out: $!";
    local $/;
    my $tap = <$in>;
    close $in;

    return ($tap, $status, $dir);
}

sub tap_has {
    my ($tap, $re, $desc) = @_;

    if ($tap !~ $re) {
        Test::More::fail($desc);
        Test::More::diag("no line matches $re in:\n$tap");
        return;
    }

    Test::More::pass($desc);
}

# A TAP line "ok N - TEXT..." (or "not ok"), TEXT taken literally.
sub tap_line {
    my ($tap, $ok, $text, $desc) = @_;

    tap_has($tap, qr/^\Q$ok\E \d+ - \Q$text\E/m, $desc);
}

my $proxy = <<'_EOC_';
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/up;
        proxy_set_header Host mock;
        proxy_read_timeout 1s;
    }
_EOC_

# 1. Every check can fail.

my $neg = <<'_EOT_' . <<"_EOT2_" . <<'_EOT3_';
use Test::Nginx::Socket 'no_plan';
no_shuffle();
run_tests();
__DATA__

=== TEST 1: error_code
--- config
    location = /t { echo ok; }
--- request
GET /t
--- error_code: 404
--- response_body
ok

=== TEST 2: error_code_like
--- config
    location = /t { echo ok; }
--- request
GET /t
--- error_code_like: ^5\d\d$

=== TEST 3: response_body
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body
ko

=== TEST 4: response_body_like
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body_like: ^nope$

=== TEST 5: response_body_unlike
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body_unlike: ok

=== TEST 6: response_headers
--- config
    location = /t { add_header X-Foo baz; add_header X-Bar 1; echo ok; }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Bar

=== TEST 7: response_headers_like
--- config
    location = /t { add_header X-Foo baz; echo ok; }
--- request
GET /t
--- response_headers_like
X-Foo: qux\d+

=== TEST 8: raw_response_headers
--- config
    location = /t { add_header X-Foo baz; echo ok; }
--- request
GET /t
--- raw_response_headers_like: X-Nope: 1
--- raw_response_headers_unlike: X-Foo:

=== TEST 9: error_log
--- config
    location = /t { echo ok; }
--- request
GET /t
--- error_log
this-will-never-be-logged

=== TEST 10: no_error_log
--- config
--- request
GET /missing-file
--- error_code: 404
--- no_error_log
[error]

=== TEST 11: grep_error_log_out
--- config
--- request
GET /missing-file
--- error_code: 404
--- grep_error_log eval: qr/missing-\w+/
--- grep_error_log_out
missing-nothing

=== TEST 12: must_die but it lives
--- config
    location = /t { echo ok; }
--- must_die

=== TEST 13: must_die with another message
--- config
    foo_bar_baz on;
--- must_die
--- suppress_stderr
--- error_log
totally different message

=== TEST 14: tcp_query
--- config
_EOT_
$proxy
_EOT2_
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
--- tcp_query: WRONG
--- request
GET /t
--- response_body chomp
ok

=== TEST 15: client timeout
--- config
    location = /t { echo_sleep 0.4; echo ok; }
--- request
GET /t
--- timeout: 100ms

=== TEST 16: truncated chunked response
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_http_version 1.1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
--- request
GET /t

=== TEST 17: assertion in the error log
--- config
--- request
GET /Assertion%20x%20failed
--- log_level: error
--- error_code: 404

=== TEST 18: crashed worker in the error log
--- config
--- request
GET /worker%20process%2042%20exited%20on%20signal%2011
--- log_level: error
--- error_code: 404

=== TEST 19: sanitizer report in the error log
--- config
--- request
GET /==42==ERROR:%20AddressSanitizer
--- log_level: error
--- error_code: 404

=== TEST 20: alert lines only warn
--- config
--- request
GET /x[alert]y
--- log_level: error
--- error_code: 404

=== TEST 21: access_log
--- config
    location = /t { echo ok; }
--- request
GET /t
--- access_log
GET /never

=== TEST 22: nginx gone
--- config
    location = /t { echo ok; }
--- init
my $pid = Test::Nginx::Util::get_pid_from_pidfile('x');
kill 'KILL', $pid;
select undef, undef, undef, 0.01 while Test::Nginx::Util::is_running($pid);
--- request
GET /t

=== TEST 23: tcp_query_len
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
--- tcp_query_len: 3
--- request
GET /t

=== TEST 24: array of bodies
--- config
    location /t { echo $uri; }
--- request eval
["GET /t1", "GET /t2"]
--- response_body eval
["/t1\n", "/t3\n"]
_EOT3_

my ($tap, $status) = run_meta('neg.t', $neg);

my @expect = (
    'TEST 1: error_code - status code ok',
    'TEST 2: error_code_like - status code ok',
    'TEST 3: response_body - response_body - response is expected '
    . '(repeated req 0, req 0)',
    'TEST 4: response_body_like - response_body_like - response is '
    . 'expected (ok)',
    'TEST 5: response_body_unlike - response_body_unlike - response is '
    . 'expected (ok)',
    'TEST 6: response_headers - header X-Bar not present in the raw headers',
    'TEST 6: response_headers - header X-Foo ok',
    'TEST 7: response_headers_like - header X-Foo like ok',
    'TEST 8: raw_response_headers - raw resp headers like',
    'TEST 8: raw_response_headers - raw resp headers unlike',
    'TEST 9: error_log - pattern "this-will-never-be-logged" should match a '
    . 'line in error.log (req 0)',
    'TEST 10: no_error_log - pattern "[error]" should not match any line in '
    . 'error.log but matches line',
    'TEST 11: grep_error_log_out - grep_error_log_out (req 0)',
    'TEST 12: must_die but it lives - die as expected',
    'TEST 13: must_die with another message - pattern "totally different '
    . 'message" should match a line in error.log (req 0)',
    'TEST 14: tcp_query - tcp_query ok',
    'ERROR: client socket timed out - t/neg.t TEST 15: client timeout',
    'TEST 15: client timeout - status code ok',
    'TEST 16: truncated chunked response - no last chunk found - hello',
    'TEST 16: truncated chunked response - status code ok',
    'TEST 17: assertion in the error log - ',
    'TEST 18: crashed worker in the error log - ',
    'TEST 19: sanitizer report in the error log - ',
    'TEST 21: access_log - pattern "GET /never" matches a line in access.log',
    "TEST 22: nginx gone - Can't connect to 127.0.0.1:",
    'TEST 22: nginx gone - status code ok',
    'TEST 22: nginx gone - nginx process ',
    'TEST 23: tcp_query_len - TCP query length ok',
    'TEST 24: array of bodies - response_body - response is expected '
    . '(repeated req 0, req 1)',
);

for my $e (@expect) {
    my $prefix = $e =~ /^ERROR:/ ? '' : 't/neg.t ';
    tap_has($tap, qr/^not ok \d+ - \Q$prefix$e\E/m, "check can fail: $e");
}

my $nfail = () = $tap =~ /^not ok /mg;
Test::More::is($nfail, scalar @expect, 'no unexpected failures')
    or Test::More::diag($tap);

tap_has($tap, qr/^ok \d+ - t\/neg\.t TEST 1: error_code - response_body/m,
        'the other checks of a failing block still pass');
tap_line($tap, 'ok', 't/neg.t TEST 13: must_die with another message - '
         . 'die as expected', 'must_die passes when nginx dies');
tap_has($tap, qr/^WARNING: t\/neg\.t TEST 20: .*\[alert\]/m,
        '[alert] lines give a warning');
tap_line($tap, 'ok', 't/neg.t TEST 24: array of bodies - response_body - '
         . 'response is expected (repeated req 0, req 0)',
         'arrays are checked per request');
Test::More::isnt($status, 0, 'failing file exits non-zero');

# 2. [alert] fails under TEST_NGINX_FAIL_ON_ALERT.

($tap) = run_meta('alert.t', <<'_EOT_', { TEST_NGINX_FAIL_ON_ALERT => 1 });
use Test::Nginx::Socket 'no_plan';
run_tests();
__DATA__

=== TEST 1: alert
--- config
--- request
GET /x[alert]y
--- log_level: error
--- error_code: 404
_EOT_

tap_line($tap, 'not ok', 't/alert.t TEST 1: alert - [alert] in error.log',
         'TEST_NGINX_FAIL_ON_ALERT turns [alert] into a failure');

# 3. An exact plan with repeat_each(2), master_on() and workers(2).

($tap, $status) = run_meta('plan.t', <<'_EOT_');
use Test::Nginx::Socket;

repeat_each(2);
master_on();
workers(2);

plan tests => repeat_each() * (blocks() * 3) + blocks();

add_test_cleanup_handler(sub {
    my $block = shift;
    my $master = Test::Nginx::Util::get_pid_from_pidfile('x');
    my $n = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // '';
        $n++ if $line =~ /^\d+ \(.*\) \S+ (\d+) / && $1 == $master;
    }
    Test::More::is($n, 2, $block->name . " - two worker processes");
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: config
--- config
    location = /conf {
        alias $TEST_NGINX_SERVER_ROOT/conf/nginx.conf;
    }
--- request
GET /conf
--- response_body_like: worker_processes\s+2;\s+daemon on;\s+master_process on;
--- no_error_log
[error]

=== TEST 2: serving
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]
_EOT_

tap_has($tap, qr/^1\.\.14$/m, 'exact plan: 1..14');
Test::More::is($status, 0, 'exact plan, master_on, workers(2) pass')
    or Test::More::diag($tap);

# 4. ONLY and LAST.

my $blocks3 = <<'_EOT_';
=== TEST 1: one
--- config
    location = /t { echo 1; }
--- request
GET /t
--- response_body
1

=== TEST 2: two
--- config
    location = /t { echo 2; }
--- request
GET /t
--- response_body
2
--- MARK

=== TEST 3: three
--- config
    location = /t { echo 3; }
--- request
GET /t
--- response_body
3
_EOT_

for my $mark (qw(ONLY LAST)) {
    (my $data = $blocks3) =~ s/MARK/$mark/;
    ($tap, $status) = run_meta(lc($mark) . '.t', <<"_EOT_" . $data);
use Test::Nginx::Socket;
plan tests => blocks() * 2;
no_shuffle();
run_tests();
__DATA__
_EOT_

    my $ran = join ',', $tap =~ /^ok \d+ - \S+ TEST (\d+): \w+ - status/mg;
    Test::More::is($ran, $mark eq 'ONLY' ? '2' : '1,2',
                   "$mark runs the expected blocks");
    Test::More::is($status, 0, "$mark file passes") or Test::More::diag($tap);
}

tap_has($tap, qr/^1\.\.4$/m, 'LAST: blocks() counts two blocks');

# 5. An undefined $TEST_NGINX_* variable bails out.

($tap) = run_meta('bail.t', <<'_EOT_');
use Test::Nginx::Socket 'no_plan';
run_tests();
__DATA__

=== TEST 1: undefined
--- config
    location = /t { echo $TEST_NGINX_NO_SUCH_VARIABLE; }
--- request
GET /t
_EOT_

tap_has($tap, qr/^Bail out!.*No environment TEST_NGINX_NO_SUCH_\w+ defined/m,
        'undefined $TEST_NGINX_* variable bails out');


# 6. Subclassing with -Base and a shared block preprocessor.

my $my_tester = <<'_EOM_';
package t::MyTester;

use Test::Nginx::Socket -Base;

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value('config', '    location = /t { echo $arg_a; }');
    }
});

1;
_EOM_

my $sub_t = <<'_EOT_';
use t::MyTester 'no_plan';
run_tests();
__DATA__

=== TEST 1: default config from the subclass
--- request
GET /t?a=3
--- response_body
3
_EOT_

($tap, $status) = run_meta('sub.t', $sub_t, undef,
                           { 't/MyTester.pm' => $my_tester });

tap_line($tap, 'ok', 't/sub.t TEST 1: default config from the subclass - '
         . 'response_body', '-Base subclass with a block preprocessor');
Test::More::is($status, 0, '-Base subclass file passes')
    or Test::More::diag($tap);

# 7. TEST_NGINX_USE_VALGRIND: the command line and the report parsing, with
# a stand-in valgrind that reports one error and runs nginx.

my $fake_valgrind = <<'_EOS_';
#!/bin/sh
echo "$@" >> "$FAKE_VALGRIND_LOG"
while [ $# -gt 0 ]; do
    case "$1" in -*) shift ;; *) break ;; esac
done
echo "==4242== Invalid read of size 4" >&2
echo "==4242==    at 0x0: fake (fake.c:1)" >&2
echo "==4242== " >&2
exec "$@"
_EOS_

my $vg_test = <<'_EOT_';
use Test::Nginx::Socket 'no_plan';
run_tests();
__DATA__

=== TEST 1: under valgrind
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body
ok
_EOT_

my $vgdir;
($tap, $status, $vgdir) = run_meta('vg.t', $vg_test, {
    TEST_NGINX_USE_VALGRIND => 1,
    PATH => "%DIR%/bin:$ENV{PATH}",
    FAKE_VALGRIND_LOG => '%DIR%/valgrind.args',
}, {
    'valgrind.suppress' => "# empty\n",
    'bin/valgrind' => $fake_valgrind,
});

tap_line($tap, 'not ok', 't/vg.t TEST 1: under valgrind - valgrind '
         . 'reported 1 error(s)', 'valgrind reports are failures');
tap_line($tap, 'ok', 't/vg.t TEST 1: under valgrind - response_body',
         'nginx runs under valgrind');
my $vgargs = '';
if (open my $in, '<', "$vgdir/valgrind.args") {
    local $/;
    $vgargs = <$in>;
}
tap_has($vgargs, qr/^--num-callers=100\ -q\ --tool=memcheck
                     \ --leak-check=full\ .*--gen-suppressions=all
                     \ --suppressions=valgrind\.suppress\ \S*nginx\ /mx,
        'valgrind options and valgrind.suppress');

# 8. Reports written while nginx exits (LeakSanitizer) fail the last block.

($tap) = run_meta('exit.t', <<'_EOT_');
use Test::Nginx::Socket 'no_plan';
use POSIX ();

master_on();    # a single process exits at once, without waiting

add_test_cleanup_handler(sub {
    # Once nginx starts its graceful exit (it then waits for the sleeping
    # request), append what a sanitizer build prints when a worker exits.
    my $log = $Test::Nginx::Util::ErrLogFile;
    return if fork();
    for (1 .. 500) {
        open my $in, '<', $log or last;
        my $all = do { local $/; <$in> };
        close $in;
        if ($all =~ /gracefully shutting down/) {
            open my $out, '>>', $log or last;
            print $out "==42==ERROR: LeakSanitizer: detected memory leaks\n";
            close $out;
            last;
        }
        select undef, undef, undef, 0.01;
    }
    POSIX::_exit(0);
});

run_tests();
__DATA__

=== TEST 1: leaks at exit
--- config
    location = /t { echo_sleep 0.5; echo ok; }
--- request
GET /t
--- timeout: 50ms
--- abort
--- ignore_response
_EOT_

tap_line($tap, 'not ok', 't/exit.t TEST 1: leaks at exit - while nginx was '
         . 'exiting: ==42==ERROR: LeakSanitizer',
         'sanitizer reports at nginx exit are failures');

# The positive suite.

repeat_each(2);
no_shuffle();
env_to_nginx('COMPAT_ENV=value');

add_block_preprocessor(sub {
    my $block = shift;

    if (defined $block->default_config) {
        $block->set_value('config', <<'_EOC_');
    location = /pre { echo "from preprocessor"; }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: config, request, response_body, no_error_log
--- config
    location = /t {
        echo hello;
    }
--- request
GET /t
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: http_config, main_config and $TEST_NGINX_* expansion
--- main_config
    worker_rlimit_nofile 2048;
--- http_config
    map $arg_x $mapped {
        default "m-$arg_x-$TEST_NGINX_COMPAT_WORD";
    }
--- config
    location = /t {
        echo "$mapped port=$TEST_NGINX_SERVER_PORT";
    }
    location = /conf {
        alias $TEST_NGINX_SERVER_ROOT/conf/nginx.conf;
    }
--- request eval
["GET /t?x=1", "GET /conf"]
--- response_body_like eval
["^m-1-expanded port=$ENV{TEST_NGINX_SERVER_PORT}\n\\z",
 "env COMPAT_ENV=value;.*worker_rlimit_nofile 2048;"
 . ".*default_type text/plain;.*server_name\\s+'localhost';"]
--- no_error_log
[error]



=== TEST 3: expected response_body is expanded ($TEST_NGINX_*, $ServerPort)
--- config
    location = /t {
        add_header X-Port $server_port;
        echo "port=$server_port";
        echo "$TEST_NGINX_COMPAT_WORD";
        echo "$server_port";
    }
--- request
GET /t
--- response_headers
X-Port: $ServerPort
--- response_body
port=$TEST_NGINX_SERVER_PORT
$TEST_NGINX_COMPAT_WORD
$ServerPort



=== TEST 4: request and more_headers are not expanded
--- config
    location = /t {
        echo "a=$arg_a h=$http_x_port";
    }
--- more_headers
X-Port: $TEST_NGINX_SERVER_PORT
--- request
GET /t?a=$TEST_NGINX_SERVER_PORT
--- response_body_like chomp
^a=\$TEST_NGINX_SERVER_PORT h=\$TEST_NGINX_SERVER_PORT$



=== TEST 5: error_log patterns are not expanded
--- config
--- request
GET /x$TEST_NGINX_SERVER_PORT
--- error_code: 404
--- error_log
html/x$TEST_NGINX_SERVER_PORT"



=== TEST 6: request eval array, error_code array, eval patterns
--- config
    location = /a { echo a; }
--- request eval
["GET /a", "GET /nope"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^a\n\\z", "404 Not Found"]
--- error_log eval
[qr/http (?:request|args)/, "http"]



=== TEST 7: packets with delay_before and Content-Length
--- config
    location = /t {
        echo_read_request_body;
        echo "[$request_body] $http_content_length";
    }
--- request eval
[["POST /t\nhel", {value => "lo", delay_before => 0.05}]]
--- response_body
[hello] 5



=== TEST 8: request body is trimmed, comments skipped
--- config
    location = /t {
        echo_read_request_body;
        echo "[$request_body] $request_method $server_protocol";
    }
--- request
    # a comment
    POST /t HTTP/1.0

  body text
--- response_body
[body text] POST HTTP/1.0



=== TEST 9: more_headers
--- config
    location = /t {
        echo "$http_x_foo|$http_user_agent|$host";
    }
--- more_headers
X-Foo: bar
# a comment
User-Agent: compat
--- request
GET /t
--- response_body
bar|compat|localhost



=== TEST 10: response_body_like and response_body_unlike
--- config
    location = /t {
        echo "line one";
        echo "line two";
    }
--- request
GET /t
--- response_body_like
^line one
line two$



=== TEST 11: response_body_unlike
--- config
    location = /t {
        echo "ok";
    }
--- request
GET /t
--- response_body_unlike: error



=== TEST 12: response_headers, !absent, _like, raw_response_headers_like
--- config
    location = /t {
        add_header X-Foo "bar baz";
        echo ok;
    }
--- request
GET /t
--- response_headers
X-Foo: bar baz
Content-Type: text/plain
!X-Absent
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n
--- raw_response_headers_unlike: X-Absent
--- response_body
ok



=== TEST 13: response_headers_like
--- config
    location = /t {
        add_header X-Num 12345;
        echo ok;
    }
--- request
GET /t
--- response_headers_like
X-Num: \d+
Server: nginx.*



=== TEST 14: error_code and error_code_like
--- config
    location = /t {
        return 403;
    }
--- request
GET /t
--- error_code_like: ^40[13]$
--- response_body_like: 403 Forbidden



=== TEST 15: error_log and grep_error_log
--- config
--- request eval
"GET /y$ENV{TEST_NGINX_SERVER_PORT}"
--- error_code: 404
--- log_level: error
--- error_log
No such file or directory
--- grep_error_log eval: qr{html/y\d+}
--- grep_error_log_out
html/y$TEST_NGINX_SERVER_PORT



=== TEST 16: must_die on a bad directive
--- config
    foo_bar_baz on;
--- must_die
--- suppress_stderr
--- error_log
[emerg]
unknown directive "foo_bar_baz"
--- no_error_log
[alert]



=== TEST 17: tcp_listen, tcp_reply and tcp_query
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/up;
        proxy_set_header Host mock;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"GET /up HTTP/1.0\r\nHost: mock\r\nConnection: close\r\n\r\n"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
--- request
GET /t
--- response_body chomp
hello
--- no_error_log
[error]



=== TEST 18: tcp_reply array, tcp_reply_delay, tcp_query_len
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/up;
        proxy_set_header Host mock;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 51
--- tcp_reply_delay: 50ms
--- tcp_reply eval
["HTTP/1.0 200 OK\r\n", "Content-Length: 2\r\n\r\n", "ok"]
--- request
GET /t
--- response_body chomp
ok



=== TEST 19: tcp_reply sub, tcp_no_close
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/up;
        proxy_set_header Host mock;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
sub {
    my $q = shift;
    my $b = "got " . length($q);
    return "HTTP/1.0 200 OK\r\nContent-Length: " . length($b) . "\r\n\r\n$b";
}
--- request
GET /t
--- response_body chomp
got 51



=== TEST 20: chunked response decoding
--- config
    location = /t {
        echo -n "first ";
        echo_flush;
        echo_sleep 0.02;
        echo "second";
    }
--- request
GET /t
--- raw_response_headers_like: Transfer-Encoding: chunked\r\n
--- response_headers
!Content-Length
--- response_body
first second



=== TEST 21: timeout and abort
--- config
    location = /t {
        echo_sleep 0.3;
        echo late;
    }
--- request
GET /t
--- timeout: 0.1
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 22: raw_request
--- config
    location = /t {
        echo "$server_protocol $http_host";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: raw\r\n\r\n"
--- response_body
HTTP/1.0 raw



=== TEST 23: raw_request in packets
--- config
    location = /t {
        echo "$http_x_split";
    }
--- raw_request eval
["GET /t HTTP/1.1\r\nHost: x\r\nX-Sp", "lit: yes\r\nConnection: close\r\n\r\n"]
--- raw_request_middle_delay: 0.02
--- response_body
yes



=== TEST 24: pipelined_requests
--- config
    location /p {
        echo "$uri $http_connection";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["/p1 keep-alive\n", "/p2 close\n"]



=== TEST 25: user_files
--- config
    location /files/ {
        alias $TEST_NGINX_HTML_DIR/;
    }
--- user_files
>>> a.txt
port $TEST_NGINX_SERVER_PORT
>>> sub/b.txt 201001010000
bee
--- request eval
["GET /a.txt", "GET /files/sub/b.txt"]
--- response_body eval
["port $ENV{TEST_NGINX_SERVER_PORT}\n", "bee\n"]
--- response_headers eval
["", "Last-Modified: Fri, 01 Jan 2010 00:00:00 GMT"]



=== TEST 26: SKIP is never run
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never
--- SKIP



=== TEST 27: skip_eval
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never
--- skip_eval: 2: 1



=== TEST 28: skip_nginx
--- config
    location = /t { echo ok; }
--- request
GET /t
--- response_body
ok
--- skip_nginx: 2: < 0.1.0



=== TEST 29: wait and log_level
--- config
    location = /t { echo ok; }
--- log_level: warn
--- request
GET /t
--- wait: 0.05
--- no_error_log
[debug]
[info]



=== TEST 30: add_block_preprocessor
--- default_config
--- request
GET /pre
--- response_body
from preprocessor



=== TEST 31: HEAD request
--- config
    location = /t { echo hello; }
--- request
HEAD /t
--- response_body:



=== TEST 32: response_body_filters and json sort
--- config
    location = /t { echo '{"b": 1, "a": [2, 3]}'; }
--- request
GET /t
--- response_body_filters
lc
--- response_body_json_sort
--- response_body
{"a":[2,3],"b":1}



=== TEST 33: access_log
--- config
    location = /t { echo ok; }
--- request
GET /t?access=1
--- access_log
GET /t?access=1 HTTP/1.1
--- no_access_log
GET /never



=== TEST 34: init and post_setup_server_root
--- config
    location = /t { echo ok; }
--- post_setup_server_root
open my $f, '>', Test::Nginx::Util::html_dir() . '/post.txt' or die;
print $f "post\n";
--- init
die "post_setup_server_root did not run\n"
    unless -f Test::Nginx::Util::html_dir() . '/post.txt';
--- request
GET /post.txt
--- response_body
post



=== TEST 35: no config reuses the running server
--- request
GET /post.txt
--- response_body
post



=== TEST 36: HTTP/1.0 chunked-free response, Content-Length check
--- config
    location = /t { return 200 "exact"; }
--- request
GET /t HTTP/1.0
--- response_headers
Content-Length: 5
--- response_body chomp
exact
