using BenchmarkDotNet.Running;
using Tollgate.Benchmarks;

// `ingest ...` runs the usage ingestion harness; anything else goes to BenchmarkDotNet (e.g. --filter '*').
return args is ["ingest", .. var rest]
    ? await IngestionRun.RunAsync(rest)
    : RunBenchmarks(args);

static int RunBenchmarks(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(HotPathBenchmarks).Assembly).Run(args);
    return 0;
}
