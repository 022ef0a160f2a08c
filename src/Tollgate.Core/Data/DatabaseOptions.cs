namespace Tollgate.Data;

/// <summary>The database providers Tollgate runs on.</summary>
public enum DatabaseProvider
{
    /// <summary>An embedded SQLite file: the one-command default.</summary>
    Sqlite,

    /// <summary>PostgreSQL.</summary>
    Postgres,

    /// <summary>MySQL or MariaDB.</summary>
    MySql,
}

/// <summary>Options bound from <c>Tollgate:Database</c>.</summary>
public sealed class DatabaseOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Database";

    /// <summary>Which database to use. Default <see cref="DatabaseProvider.Sqlite"/>.</summary>
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;
}
