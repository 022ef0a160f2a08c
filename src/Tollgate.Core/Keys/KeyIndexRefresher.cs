using Microsoft.Extensions.Options;

namespace Tollgate.Keys;

/// <summary>Reads the newest keys into the <see cref="KeyIndex"/> every <see cref="ApiKeyOptions.IndexRefreshInterval"/>.</summary>
internal sealed partial class KeyIndexRefresher(
    KeyIndex index, TimeProvider time, IOptions<ApiKeyOptions> options, ILogger<KeyIndexRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.IndexRefreshInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await index.CatchUpAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The database is away: the index keeps what it knows, and the next tick tries again.
                    LogCatchUpFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the newest API keys into the key index")]
    private static partial void LogCatchUpFailed(ILogger logger, Exception exception);
}
