using Tollgate.Testing;

namespace Tollgate.Storage.Tests.Data;

public sealed class DatabaseConfigurationTests
{
    [Theory]
    [InlineData("Postgres")]
    [InlineData("MySql")]
    public async Task Start_ServerProviderWithSqliteConnectionString_FailsNamingTheSetting(string provider)
    {
        await using var app = new TollgateApp(
            AppDatabase.ForSqliteFile(TestDatabase.NewSqlitePath()),
            settings: new Dictionary<string, string?> { ["Tollgate:Database:Provider"] = provider });

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains($"Tollgate:Database:Provider is {provider} but ConnectionStrings:Tollgate is a SQLite connection string", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_UnknownProvider_FailsNamingTheSettingAndValue()
    {
        await using var app = new TollgateApp(
            AppDatabase.ForSqliteFile(TestDatabase.NewSqlitePath()),
            settings: new Dictionary<string, string?> { ["Tollgate:Database:Provider"] = "Oracle" });

        var error = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains("'Oracle' at 'Tollgate:Database:Provider'", error.ToString(), StringComparison.Ordinal);
    }
}
