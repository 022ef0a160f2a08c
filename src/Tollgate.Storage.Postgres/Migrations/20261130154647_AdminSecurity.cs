using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tollgate.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class AdminSecurity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "recovery_code_hashes",
                table: "admins",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "totp_enabled",
                table: "admins",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<long>(
                name: "totp_last_step",
                table: "admins",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "totp_secret",
                table: "admins",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "admin_sessions",
                columns: table => new
                {
                    key_hash = table.Column<byte[]>(type: "bytea", maxLength: 32, nullable: false),
                    admin_id = table.Column<long>(type: "bigint", nullable: false),
                    ticket = table.Column<byte[]>(type: "bytea", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    last_seen_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_admin_sessions", x => x.key_hash);
                    table.ForeignKey(
                        name: "fk_admin_sessions_admins_admin_id",
                        column: x => x.admin_id,
                        principalTable: "admins",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_audit_log_target_timestamp",
                table: "audit_log",
                columns: new[] { "target", "timestamp" });

            migrationBuilder.CreateIndex(
                name: "ix_admin_sessions_admin_id",
                table: "admin_sessions",
                column: "admin_id");

            migrationBuilder.CreateIndex(
                name: "ix_admin_sessions_expires_at",
                table: "admin_sessions",
                column: "expires_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "admin_sessions");

            migrationBuilder.DropIndex(
                name: "ix_audit_log_target_timestamp",
                table: "audit_log");

            migrationBuilder.DropColumn(
                name: "recovery_code_hashes",
                table: "admins");

            migrationBuilder.DropColumn(
                name: "totp_enabled",
                table: "admins");

            migrationBuilder.DropColumn(
                name: "totp_last_step",
                table: "admins");

            migrationBuilder.DropColumn(
                name: "totp_secret",
                table: "admins");
        }
    }
}
