# The inputs the fuzzers of t/fuzz once failed on (t/fuzz/regress, named
# TARGET-what), and every seed the fuzzers start from (t/fixtures, with
# their prefix bytes), replayed through the fuzz targets built without
# libFuzzer (t/fuzz/replay.c, with ASan and UBSan): each must run clean,
# oracles included.  "make unit" builds $LLM_UNIT_DIR/fuzz_replay_TARGET;
# "make fuzz" runs the fuzzers themselves.

use strict;
use warnings;

use Test::More;
use File::Find;

my $dir = $ENV{LLM_UNIT_DIR} || 'build/unit';
my @targets = qw(json sse request stream response eventstream);

for my $t (@targets) {
    plan skip_all => "$dir/fuzz_replay_$t is not built (make unit)"
        unless -x "$dir/fuzz_replay_$t";
}

opendir my $dh, 't/fuzz/regress' or die "t/fuzz/regress: $!";
my @regress = sort grep { -f "t/fuzz/regress/$_" && !/^\./ } readdir $dh;
closedir $dh;

my (@json, @sse, @es);
find(sub {
         return unless -f $_ && -s _ < 65536;
         push @json, $File::Find::name if /\.json$/;
         push @sse, $File::Find::name if /\.sse$/;
         push @es, $File::Find::name if /\.eventstream\.bin$/;
     }, 't/fixtures');
@json = sort @json;
@sse = sort @sse;
@es = sort @es;

plan tests => @regress + 2 * @targets;

sub replay {
    my ($t, @files) = @_;
    my $out = `$dir/fuzz_replay_$t @files 2>&1`;
    return ($? >> 8 || $? & 127, $out);
}

for my $f (@regress) {
    my ($t) = $f =~ /^([a-z]+)-/;
    my ($rc, $out) = (defined $t && grep({ $_ eq $t } @targets))
                     ? replay($t, "t/fuzz/regress/$f")
                     : (1, "no target for $f: name it TARGET-what");
    is($rc, 0, "regress $f") or diag($out);
}

# the seeds: the prefix bytes each target reads first, then a recording

my $tmp = "t/servroot-fuzz";
mkdir $tmp;

sub seeds {
    my ($name, $prefix, @files) = @_;
    my @out;
    for my $i (0 .. $#files) {
        open my $in, '<:raw', $files[$i] or die "$files[$i]: $!";
        local $/;
        my $data = <$in>;
        close $in;
        my $o = "$tmp/$name-$i";
        open my $fh, '>:raw', $o or die "$o: $!";
        print $fh $prefix, $data;
        close $fh;
        push @out, $o;
    }
    return @out;
}

my %seeds = (
    json     => [ seeds('json', '', @json) ],
    request  => [ seeds('request', "\x0a", grep { /request/ } @json) ],
    response => [ seeds('response', "\x05", grep { !/request/ } @json) ],
    sse      => [ seeds('sse', "\x40\x01\x02\x03\x04", @sse) ],
    stream   => [ seeds('stream', "\x09\x35\x11\x00\x09", @sse) ],
    eventstream => [ seeds('eventstream', "\x41\x01\x02\x03\x04", @es),
                     seeds('es-split', "\x40\x35\x11\x00\x09", @es) ],
);

for my $t (@targets) {
    my @files = @{ $seeds{$t} };
    ok(@files >= 8, "$t: " . scalar(@files) . " seeds");
    my ($rc, $out) = replay($t, @files);
    is($rc, 0, "$t: the seeds replay clean") or diag($out);
}

system('rm', '-rf', $tmp);
