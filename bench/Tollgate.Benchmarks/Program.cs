using BenchmarkDotNet.Running;
using Tollgate.Benchmarks;

// `ingest ...` runs the usage ingestion harness, `keys ...` writes many keys for the scale section, `propagation ...`
// times a plan change from one instance to another; anything else goes
// to BenchmarkDotNet (e.g. --filter '*').
return args switch
{
    ["ingest", .. var rest] => await IngestionRun.RunAsync(rest),
    ["keys", .. var rest] => KeysRun.Run(rest),
    ["propagation", .. var rest] => await PropagationRun.RunAsync(rest),
    _ => RunBenchmarks(args),
};

static int RunBenchmarks(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args);
    return 0;
}
