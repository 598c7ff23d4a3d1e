"""The programme of each half-day (issue 19): an association's catalogue of modules, the modules
of each half-day with their times, the outside speakers booked for them, and the rule that a
course covers the contents the décret n° 2016-1709 requires before it is scheduled."""
