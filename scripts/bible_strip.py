#!/usr/bin/env python3
"""diatheke's raw output of a SWORD Bible module (stdin) -> one verse a line, "Book C:V<TAB>text"
(stdout), by the stripping rules in scripts/fetch-corpora.sh ("Bible texts"). Keeps only the 66
books of the Protestant canon; reports on stderr how many verses it wrote and what it left out.

    diatheke -b engWEB2015eb -k "Gen 1:1-Rev 22:21" | scripts/bible_strip.py engWEB2015eb > web.txt

Exit status 1 with the line for diatheke output it does not recognise.
"""
import re, sys
books = ["Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "I Samuel",
         "II Samuel", "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra", "Nehemiah", "Esther", "Job",
         "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel",
         "Daniel", "Hosea", "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai",
         "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "I Corinthians",
         "II Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians", "I Thessalonians",
         "II Thessalonians", "I Timothy", "II Timothy", "Titus", "Philemon", "Hebrews", "James", "I Peter",
         "II Peter", "I John", "II John", "III John", "Jude", "Revelation of John"]
reference = re.compile(r"^(?:.*>)?\s*(" + "|".join(map(re.escape, books)) + r") (\d+):(\d+): (.*)$")
book_end = re.compile(r"<div\b[^>]*\beID=[^>]*\btype=.book.[^>]*/>")
any_reference = re.compile(r"^(?:.*>)?\s*(.+?) \d+:\d+: ")
module = sys.argv[1]
verses, empty, other_books = [], 0, []
for line in sys.stdin.read().split("\n"):
    m = reference.match(line)
    if not m:
        other = any_reference.match(line)
        if other and other.group(1) not in other_books:
            other_books.append(other.group(1))
        elif not other and line.strip() not in ("", "(" + module + ")"):
            sys.exit("[fetch-corpora] " + module + ": unexpected diatheke output line: " + line[:120])
        continue
    text = book_end.split(m.group(4))[0].replace("</w><w", "</w> <w")
    text = re.sub(r"<[^>]*>", "", text).replace("\u00b6", "")
    text = " ".join(text.split())
    if not text:
        empty += 1
        continue
    verses.append(m.group(1) + " " + m.group(2) + ":" + m.group(3) + "\t" + text)
sys.stdout.write("\n".join(verses) + "\n")
sys.stderr.write("[fetch-corpora] %s: %d verses; %d empty verses left out; books left out: %s\n"
                 % (module, len(verses), empty, ", ".join(other_books) or "none"))
