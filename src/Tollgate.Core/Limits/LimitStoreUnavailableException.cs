namespace Tollgate.Limits;

/// <summary>
/// The shared limit store cannot be reached and the failure mode is <see cref="RedisFailureMode.Closed"/>:
/// the request is answered 503 rather than admitted without a shared count.
/// </summary>
public sealed class LimitStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LimitStoreUnavailableException()
        : base("The shared limit store (Redis) is unreachable and Tollgate:RedisFailureMode is Closed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public LimitStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public LimitStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
