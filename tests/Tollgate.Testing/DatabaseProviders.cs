using Tollgate.Data;

namespace Tollgate.Testing;

/// <summary>Theory data: the providers a test runs on.</summary>
public static class DatabaseProviders
{
    /// <summary>SQLite, PostgreSQL and MySQL (MariaDB in the tests).</summary>
    public static TheoryData<DatabaseProvider> All =>
        [DatabaseProvider.Sqlite, DatabaseProvider.Postgres, DatabaseProvider.MySql];

    /// <summary>The two server databases.</summary>
    public static TheoryData<DatabaseProvider> Servers => [DatabaseProvider.Postgres, DatabaseProvider.MySql];
}
