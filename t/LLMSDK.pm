package t::LLMSDK;

# The harness of the SDK conformance tests (t/070-sdk.t,
# t/071-sdk-anthropic.t, t/073-sdk-gemini.t): the quickstart configuration
# (conf-examples/quickstart.conf, mock providers) started by
# t/bin/run-quickstart on a free port in a temporary prefix, and a
# t/sdk/*.test.mjs file run against it with node's test runner.
#
#     use FindBin ();
#     use lib "$FindBin::Bin/..";
#     use t::LLMSDK;
#
#     t::LLMSDK::run_sdk_tests(
#         package    => '@anthropic-ai/sdk',   # the npm package under test
#         files      => ['t/sdk/anthropic.test.mjs'],
#         env_prefix => 'ANTHROPIC',           # ANTHROPIC_BASE_URL, _SDK_DIR
#         base_path  => '',                    # appended to http://host:port
#         access_log => qr{"POST /v1/messages HTTP/1\.1" 200 },
#     );
#
# A plain Test::More test, not Test::Nginx: it needs node, npm and the SDKs
# (installed once into build/sdk from t/sdk/package.json), and it skips
# with the reason when one of them is missing or the npm registry cannot
# be reached.  Four tests: nginx started, node --test passes, no alert,
# crit, emerg or crash in the error log, the access log shows the calls.
#
# Environment (set by "make test"): LLM_MODULE, the module's .so;
# TEST_NGINX_BINARY, nginx; TEST_NGINX_LOAD_MODULES or ECHO_MODULE, where
# the echo module is.

use strict;
use warnings;

use Test::More;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use Fcntl qw(:flock);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Cwd qw(abs_path);

# the checkout, whatever the current directory
my $top = abs_path(dirname(abs_path(__FILE__)) . '/..');

my $nginx_pid;

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    return scalar <$fh>;
}

sub tail_lines {
    my ($text, $n) = @_;
    my @lines = grep { length } split /\n/, $text // '';
    @lines = @lines[-$n .. -1] if @lines > $n;
    return join "\n", @lines;
}

# runs a command, returns its exit code and output (stdout and stderr)
sub run {
    my @cmd = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die "dup: $!";
        { no warnings 'exec'; exec @cmd; }
        print "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;

    return ($? >> 8, $out);
}

# the line of npm's output that says what went wrong
sub npm_error {
    my ($out) = @_;
    my @lines = grep { length && !/complete log of this run/ }
                map { s/^npm (error|ERR!)\s*//r } split /\n/, $out // '';
    my ($why) = grep { /request to .* failed/ } @lines;
    ($why) = grep { /E[A-Z]{3,}|network|timed out/ } @lines unless $why;
    return $why // $lines[0] // 'no output';
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub stop_nginx {
    return unless $nginx_pid;

    kill 'TERM', $nginx_pid;

    for (1 .. 100) {
        if (waitpid($nginx_pid, WNOHANG) != 0) {
            undef $nginx_pid;
            return;
        }
        sleep 0.1;
    }

    kill 'KILL', $nginx_pid;
    waitpid $nginx_pid, 0;
    undef $nginx_pid;
}

END {
    my $status = $?;
    stop_nginx();
    $? = $status;
}


# -- what is needed: skips with the reason, returns ($nginx, $echo, $node) ---

sub check_needs {
    my (%o) = @_;

    my $module = $ENV{LLM_MODULE};

    plan skip_all => 'LLM_MODULE is not set (run through "make test")'
        unless defined $module && length $module;

    plan skip_all => "LLM_MODULE \"$module\" does not exist (make build)"
        unless -f $module;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';

    plan skip_all => "cannot run nginx \"$nginx\""
        unless system("$nginx -v >/dev/null 2>&1") == 0;

    my $echo = $ENV{ECHO_MODULE};

    if (!$echo) {
        ($echo) = grep { /echo/ }
                  split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
        $echo //= '/usr/lib/nginx/modules/ngx_http_echo_module.so';
    }

    plan skip_all => "no echo module at \"$echo\" (Debian: "
                     . "libnginx-mod-http-echo; or set ECHO_MODULE)"
        unless -f $echo;

    my $node_version = `node --version 2>/dev/null` // '';

    plan skip_all => 'node is not installed: the SDK test needs node >= 18'
        unless $node_version =~ /^v(\d+)\./;

    plan skip_all => "node $node_version is too old: the SDK test needs >= 18"
        if $1 < 18;

    chomp $node_version;

    plan skip_all => "npm is not installed: the SDK test installs the "
                     . "$o{package} package with it"
        unless system('npm --version >/dev/null 2>&1') == 0;

    return ($module, $nginx, $echo, $node_version);
}


# -- the SDKs, installed once into build/sdk: returns the package's version --

sub install_sdk {
    my (%o) = @_;

    # failures are reported at the line of the .t file that calls
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $sdk = $o{sdk};
    my $pkg_json = "$sdk/node_modules/$o{package}/package.json";

    make_path($sdk);

    {
        # one installer at a time: other test runs may share the checkout
        open my $lock, '>', "$sdk/.lock" or die "$sdk/.lock: $!";
        flock $lock, LOCK_EX or die "flock: $!";

        my $want = slurp('t/sdk/package.json');
        my $have = slurp("$sdk/package.json");

        if (!-f $pkg_json || !defined $have || $have ne $want) {
            # a quick look first: offline, "npm install" retries for a minute

            my ($rc, $ping) = run(qw(timeout 60 npm ping --fetch-retries=0
                                     --fetch-timeout=15000));

            if ($rc != 0) {
                plan skip_all => 'npm cannot reach the registry to install '
                                 . "$o{npm_what}: " . npm_error($ping);
            }

            copy('t/sdk/package.json', "$sdk/package.json")
                or die "copy t/sdk/package.json: $!";

            ($rc, my $out) = run(qw(timeout 300 npm install --prefix), $sdk,
                                 qw(--no-audit --no-fund --loglevel=error));

            if ($rc != 0) {
                unlink "$sdk/package.json";

                # the registry went away between ping and install
                if ($out =~ /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET
                             |ETIMEDOUT|ENETUNREACH|network/x)
                {
                    plan skip_all => 'npm cannot reach the registry to '
                                     . "install $o{npm_what}: "
                                     . npm_error($out);
                }

                fail("npm install --prefix $sdk");
                diag(tail_lines($out, 20));
                done_testing();
                exit;
            }
        }

        close $lock;
    }

    my ($version) = (slurp($pkg_json) // '') =~ /"version"\s*:\s*"([^"]+)"/;

    return $version // '?';
}


# -- nginx with the quickstart configuration on a free port: returns the
#    port and the file of nginx's output (error and access logs) ------------

sub start_quickstart {
    my ($nginx, $module, $echo, $conf) = @_;

    # failures are reported at the line of the .t file that calls
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $port = free_port();
    my $prefix = tempdir('llm-sdk-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    # run as root, nginx's workers are another user: let them in
    chmod 0755, $prefix;

    my $out_log = "$prefix/nginx.out";

    $nginx_pid = fork // die "fork: $!";

    if ($nginx_pid == 0) {
        # run-quickstart execs nginx: this pid becomes nginx's master

        # appending: nginx opens /dev/stdout (the access log) again, with
        # an offset of its own; stderr would write over its lines
        open STDOUT, '>>', $out_log or die "$out_log: $!";
        open STDERR, '>&', \*STDOUT or die "dup: $!";

        # the mocks only, whatever keys the developer has
        delete @ENV{qw(OPENAI_API_KEY DEEPSEEK_API_KEY MISTRAL_API_KEY
                       GROQ_API_KEY TOGETHER_API_KEY)};

        $ENV{QUICKSTART_PORT} = $port;
        $ENV{QUICKSTART_PREFIX} = $prefix;
        $ENV{ECHO_MODULE} = $echo;
        $ENV{QUICKSTART_CONF} = "$top/$conf" if $conf;

        { no warnings 'exec'; exec 't/bin/run-quickstart', $nginx, $module; }
        print "exec t/bin/run-quickstart: $!\n";
        POSIX::_exit(127);
    }

    my $up = 0;

    for (1 .. 100) {
        if (waitpid($nginx_pid, WNOHANG) != 0) {
            undef $nginx_pid;
            last;
        }

        if (IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp'))
        {
            $up = 1;
            last;
        }

        sleep 0.1;
    }

    if (!ok($up, "run-quickstart started nginx on 127.0.0.1:$port")) {
        diag(slurp($out_log) // '(no output)');
        done_testing();
        exit;
    }

    return ($port, $out_log);
}


# -- the whole test ----------------------------------------------------------
#
#   package     the npm package (node_modules/<package>), named in the skip
#               reasons and the diagnostics
#   npm_what    how a registry skip names it ("npm cannot reach the
#               registry to install <npm_what>: ..."), default "the SDK"
#   files       the t/sdk/*.test.mjs files, run by one node --test
#   env_prefix  <prefix>_BASE_URL and <prefix>_SDK_DIR for the files
#   base_path   after http://127.0.0.1:<port>: what the SDK's base URL ends in
#   access_log  a pattern the log must match once the SDK tests have run
#   conf        a file of conf-examples/ instead of quickstart.conf

sub run_sdk_tests {
    my (%o) = @_;

    # failures are reported at the line of the .t file that calls
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    for (qw(package files env_prefix access_log)) {
        die "run_sdk_tests: $_ is missing\n" unless defined $o{$_};
    }

    $o{npm_what} //= 'the SDK';
    $o{base_path} //= '';

    chdir $top or die "chdir $top: $!";

    my $started = time;

    my ($module, $nginx, $echo, $node_version) = check_needs(%o);

    my $sdk = "$top/build/sdk";
    my $sdk_version = install_sdk(%o, sdk => $sdk);

    # extra_conf: a file of mock providers added to the quickstart's
    # providers.d (t/bin/run-quickstart, QUICKSTART_EXTRA)
    local $ENV{QUICKSTART_EXTRA} = "$top/$o{extra_conf}" if $o{extra_conf};

    my ($port, $out_log) = start_quickstart($nginx, $module, $echo,
                                            $o{conf});

    # the SDK test

    my $base_url = "http://127.0.0.1:$port$o{base_path}";
    my @files = @{ $o{files} };

    my $node_out;
    my $node_rc;
    my $node_started = time;

    {
        local $ENV{"$o{env_prefix}_BASE_URL"} = $base_url;
        local $ENV{"$o{env_prefix}_SDK_DIR"} = $sdk;
        local $ENV{NO_COLOR} = 1;
        local $ENV{FORCE_COLOR};
        delete $ENV{FORCE_COLOR};

        ($node_rc, $node_out) = run(qw(timeout 120 node --test
                                       --test-reporter=spec), @files);
    }

    my $node_secs = time - $node_started;

    diag("$o{package} $sdk_version on node $node_version, against "
         . "$base_url:");
    diag($_) for split /\n/, $node_out;

    is($node_rc, 0, "node --test @files passes");

    stop_nginx();

    my $log = slurp($out_log) // '';

    my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal|core dumped/ }
              split /\n/, $log;

    ok(!@bad, 'no alert, crit or emerg in the error log, no crashed worker')
        or diag(join "\n", @bad);

    like($log, $o{access_log}, 'access log shows the routed calls');

    diag(sprintf 'SDK tests %.1fs, all %.1fs', $node_secs, time - $started);

    done_testing();
}

1;
