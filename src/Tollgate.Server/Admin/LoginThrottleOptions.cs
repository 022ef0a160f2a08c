using System.ComponentModel.DataAnnotations;

namespace Tollgate.Admin;

/// <summary>Options bound from <c>Tollgate:Admin:Login</c>: how many failed logins are allowed before 429.</summary>
public sealed class LoginThrottleOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Tollgate:Admin:Login";

    /// <summary>
    /// Failures in a row for one user name, within <see cref="Window"/>, after which login answers 429 even with the
    /// right password. Default: 5 (ASP.NET Core Identity's lockout default).
    /// </summary>
    [Range(1, 1000)]
    public int MaxFailuresPerUsername { get; set; } = 5;

    /// <summary>Failures from one client address, within <see cref="Window"/>, after which it gets 429. Default: 20.</summary>
    [Range(1, 100_000)]
    public int MaxFailuresPerAddress { get; set; } = 20;

    /// <summary>How long failures count. Default: 15 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);
}
