namespace Tollgate.Admin;

/// <summary>Options bound from <c>Tollgate:Admin</c>.</summary>
public sealed class AdminOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Admin";

    /// <summary>
    /// Password of the <c>admin</c> super admin created on first start of an empty database. Default: unset, and a
    /// random password is generated and printed once to the console.
    /// </summary>
    public string? Password { get; set; }
}

/// <summary>Options bound from the <c>Tollgate</c> section itself.</summary>
public sealed class TollgateOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate";

    /// <summary>On first start of an empty database, create the demo tenants. Default false.</summary>
    public bool Demo { get; set; }
}
