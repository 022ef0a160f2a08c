using Microsoft.EntityFrameworkCore;

namespace Tollgate.Data;

/// <summary>
/// Recognizes a unique-index violation on every supported database. Checking for a duplicate name before inserting
/// leaves a window in which two concurrent creates both pass; the unique index then refuses the second, and this
/// turns that refusal into the 409 the first check would have answered.
/// </summary>
public static class UniqueViolation
{
    /// <summary>
    /// Whether the exception is a <see cref="DbUpdateException"/> caused by a unique violation; the provider's context
    /// (<see cref="TollgateDbContext.IsUniqueViolation"/>) tells its own driver's error apart.
    /// </summary>
    public static bool IsUpdate(Exception exception)
    {
        if (exception is not DbUpdateException { Entries: [{ Context: TollgateDbContext context }, ..] })
        {
            return false;
        }

        for (var e = exception.InnerException; e is not null; e = e.InnerException)
        {
            if (context.IsUniqueViolation(e))
            {
                return true;
            }
        }

        return false;
    }
}
