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
