namespace Tollgate.Testing;

/// <summary>One Tollgate per test class, for tests that each make their own tenant and so do not interfere.</summary>
public sealed class SharedApp : IAsyncLifetime
{
    public TollgateApp App { get; } = new();

    public Task InitializeAsync()
    {
        _ = App.Server; // Starts the host: migrations, first admin.
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await App.DisposeAsync();
}
