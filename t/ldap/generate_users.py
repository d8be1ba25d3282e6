#!/usr/bin/env python3
"""Writes an LDIF directory of N users and a few groups, for import tests and demos.

    generate_users.py --count 10000 --base dc=example,dc=test --groups 5 > users.ldif

Entries (loadable with slapadd or ldapadd):
  <base>                              the base entry itself (unless --no-base-entry)
  ou=people,<base>                    organizationalUnit
  uid=userNNNNN,ou=people,<base>      inetOrgPerson: uid, cn "User NNNNN", sn, mail
                                      userNNNNN@<--domain>, userPassword with --password
  ou=groups,<base>                    organizationalUnit
  cn=groupNN,ou=groups,<base>         groupOfNames; user i (from 0) is a member of group
                                      i % --groups, so every group has members when
                                      --count >= --groups

Python 3 standard library only.
"""

import argparse
import sys


def base_entry(base):
    """The base entry, with an object class that fits its first RDN."""
    rdn = base.split(",", 1)[0]
    attribute, _, value = rdn.partition("=")
    attribute = attribute.strip().lower()
    value = value.strip()
    if attribute == "dc":
        return [f"dn: {base}", "objectClass: dcObject", "objectClass: organization", f"dc: {value}", f"o: {value}"]
    if attribute == "o":
        return [f"dn: {base}", "objectClass: organization", f"o: {value}"]
    if attribute == "ou":
        return [f"dn: {base}", "objectClass: organizationalUnit", f"ou: {value}"]
    raise SystemExit(f"generate_users.py: --base {base!r}: the first RDN must be dc=, o= or ou=")


def generate(out, count, base, groups, domain, password, with_base):
    people = f"ou=people,{base}"
    group_base = f"ou=groups,{base}"
    blocks = []
    if with_base:
        blocks.append(base_entry(base))
    blocks.append([f"dn: {people}", "objectClass: organizationalUnit", "ou: people"])
    width = max(5, len(str(max(count - 1, 0))))
    members = [[] for _ in range(groups)]
    for i in range(count):
        uid = f"user{i:0{width}d}"
        dn = f"uid={uid},{people}"
        entry = [
            f"dn: {dn}",
            "objectClass: inetOrgPerson",
            f"uid: {uid}",
            f"cn: User {i:0{width}d}",
            f"sn: {i:0{width}d}",
            f"mail: {uid}@{domain}",
        ]
        if password is not None:
            entry.append(f"userPassword: {password}")
        blocks.append(entry)
        if groups:
            members[i % groups].append(dn)
    if groups:
        blocks.append([f"dn: {group_base}", "objectClass: organizationalUnit", "ou: groups"])
        for g in range(groups):
            if not members[g]:
                continue  # groupOfNames needs at least one member
            blocks.append(
                [f"dn: cn=group{g:02d},{group_base}", "objectClass: groupOfNames", f"cn: group{g:02d}"]
                + [f"member: {m}" for m in members[g]]
            )
    for block in blocks:
        out.write("\n".join(block) + "\n\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write an LDIF directory of N users and a few groups to stdout.")
    parser.add_argument("--count", type=int, required=True, help="number of users (uid=user00000 ...)")
    parser.add_argument("--base", required=True, help="the DN everything goes under, e.g. dc=example,dc=test")
    parser.add_argument("--groups", type=int, default=3, help="number of groupOfNames groups (default 3; 0: none)")
    parser.add_argument("--domain", default="example.test", help="the mail domain (default example.test)")
    parser.add_argument("--password", help="userPassword of every user (default: none)")
    parser.add_argument(
        "--no-base-entry", action="store_true", help="do not write the base entry (it exists already)"
    )
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    if args.count < 0 or args.groups < 0:
        parser.error("--count and --groups must not be negative")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            generate(out, args.count, args.base, args.groups, args.domain, args.password, not args.no_base_entry)
    else:
        generate(sys.stdout, args.count, args.base, args.groups, args.domain, args.password, not args.no_base_entry)


if __name__ == "__main__":
    main()
