namespace Tollgate.Admin;

/// <summary>Authorization policy names of the admin side.</summary>
public static class AdminPolicies
{
    /// <summary>Any signed-in admin.</summary>
    public const string Admin = "admin";

    /// <summary>Super admins only.</summary>
    public const string SuperAdmin = "super-admin";
}
