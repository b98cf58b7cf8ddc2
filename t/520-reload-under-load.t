# Reload under load: t/bin/reload-test for 8 seconds ("nginx -s reload"
# every second while wrk sends non-streamed and streamed chat completions
# through llm_pass with a virtual key; 2 workers, an llm_zone, llm_status).
# No failed request, no crashed worker, the shared counters intact (make
# reload-test runs it for 20 seconds).  Skipped without wrk.

use strict;
use warnings;

use Test::More;
use Cwd qw(abs_path);

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{LLM_MODULE} || 'build/ngx_http_llm_module.so';
my $wrk = `command -v wrk 2>/dev/null`;
chomp $wrk;

plan skip_all => "module not built ($module)" if !-f $module;
plan skip_all => "no nginx at $nginx" if !-x $nginx;
plan skip_all => 'wrk not installed (make deps)' if !$wrk;
plan skip_all => 'no echo module'
    if !-f ($ENV{ECHO_MODULE}
            || '/usr/lib/nginx/modules/ngx_http_echo_module.so');

plan tests => 7;

my $out = `RELOAD_SECONDS=8 RELOAD_CONNS=8 t/bin/reload-test '$nginx' '$module' 2>&1`;
my $rc = $? >> 8;

diag($out) if $rc != 0;

is($rc, 0, 'reload-test passes');

# "reload: ..." lines: name=value pairs
my %v;
for my $line (grep { /^reload: / } split /\n/, $out) {
    $v{$1} = $2 while $line =~ /(\w+)=(\d+)/g;
}

my ($reloads, $fresh, $req, $streams, $errors, $non2xx) =
    @v{qw(reloads new_generations requests streams errors non2xx)};

ok(defined $reloads && $reloads >= 5 && $fresh == $reloads,
   'reloaded every second, new workers each time ('
   . ($fresh // '?') . ' of ' . ($reloads // '?') . ')');

ok(($req // 0) > 1000 && ($streams // 0) > 100,
   'requests and streams went through (' . ($req // '?') . ', '
   . ($streams // '?') . ')');

is($errors, 0, 'no socket error');
is($non2xx, 0, 'no non-2xx answer');

my ($log, $status, $keyreq, $inflight) =
    @v{qw(access_log status_requests key_requests in_flight)};

ok(defined $log && $log == $status && $log == $keyreq,
   'llm_status and the key totals equal the access log ('
   . join(', ', map { $_ // '?' } $log, $status, $keyreq) . ')');

is($inflight, 0, 'nothing left in flight');
