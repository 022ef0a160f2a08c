using Microsoft.Data.Sqlite;

namespace Tollgate.Testing;

/// <summary>Throw-away SQLite files and direct reads of them, to check what really reached the database.</summary>
public static class TestDatabase
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "tollgate-tests", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static string NewSqlitePath()
    {
        Directory.CreateDirectory(Root);
        return Path.Combine(Root, Guid.NewGuid().ToString("N") + ".db");
    }

    /// <summary>A new, not yet existing folder for a usage spool, beside the test databases.</summary>
    public static string NewSpoolPath()
    {
        Directory.CreateDirectory(Root);
        return Path.Combine(Root, Guid.NewGuid().ToString("N") + ".spool");
    }

    public static async Task<long> ScalarAsync(string databasePath, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
