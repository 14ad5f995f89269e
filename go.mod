module github.com/stoaproject/stoa

go 1.26.8
