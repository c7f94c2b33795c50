//! (Skeleton, issue 23.)
